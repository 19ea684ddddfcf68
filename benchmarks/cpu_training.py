"""Where a training step's time and memory go on a CPU: the measurements behind
docs/cpu-training.md, each a subcommand, with the embedded model on 96 iris prompts written as
the paper's template writes them (batch 8, LoRA rank 16 on every linear layer).

    .venv/bin/python -m benchmarks.cpu_training speed auto     # tokens/s, MFU (lift.dtype)
    .venv/bin/python -m benchmarks.cpu_training speed bfloat16 # the frozen model in bfloat16
    .venv/bin/python -m benchmarks.cpu_training profile auto   # the operators' shares
    .venv/bin/python -m benchmarks.cpu_training compile        # torch.compile against eager
    .venv/bin/python -m benchmarks.cpu_training memory 8 60    # a first step's peak memory
    .venv/bin/python -m benchmarks.cpu_training validation     # validation's share of a fit

Run one at a time, alone on the machine: two torch processes on two cores slow each other
many times over. Each prints one JSON line (profile: a table)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, get_args

import torch
from sklearn.datasets import load_iris

from lift.config.lift import LiftSettings, ModelSettings
from lift.method import fine_tuning, learner
from lift.method.fine_tuning import (
    Job,
    encode,
    train_adapters,
    training_memory,
)
from lift.method.language_model import BaseModel, configure_threads, prepare_base_model

from .performance.machine import matmul_peak
from .performance.training import project_epoch, training_flops

MODELS = str(Path(__file__).resolve().parents[1] / "data" / "06_models")


def iris_pairs() -> tuple[list[str], list[str]]:
    """The 150 iris rows as prompts and completions, in a fixed shuffled order."""
    iris = load_iris(as_frame=True).frame.sample(frac=1, random_state=0)
    prompts = [
        ", ".join(f"x{i + 1}={v:.2f}" for i, v in enumerate(row[:4])) + "###" for row in iris.values
    ]
    return prompts, [f" {int(row[4])}@@@" for row in iris.values]


def base_model(models: str = MODELS) -> BaseModel:
    """The embedded model, converted once under ``models``."""
    return prepare_base_model(ModelSettings.parsed({"models_dir": models}, "lift.model"))


def one_epoch(
    base: BaseModel, dtype: str, rows: int = 96, training: dict[str, Any] | None = None
) -> tuple[dict[str, float], float]:
    """One epoch of the project's trainer (as `make bench` measures it) on ``rows`` iris
    prompts with ``training`` settings: the epoch's history entry and the call's seconds."""
    prompts, completions = iris_pairs()
    settings = LiftSettings.from_params(
        {"device": "cpu", "dtype": dtype, "training": training or {}}
    )
    train, validation = (prompts[:rows], completions[:rows]), (prompts[96:104], completions[96:104])
    return project_epoch(base, settings, train, validation)


def speed(dtype: str, repeats: int) -> None:
    base = base_model()
    cpu = torch.device("cpu")
    peaks = {"bf16": matmul_peak(torch.bfloat16, cpu), "fp32": matmul_peak(torch.float32, cpu)}
    model, tokenizer = learner.load_base(
        base, LiftSettings.from_params({"device": "cpu", "dtype": dtype})
    )
    prompts, completions = iris_pairs()
    flops = training_flops(model, encode(tokenizer, prompts[:96], completions[:96]))
    one_epoch(base, dtype)  # warm-up
    for _ in range(repeats):
        epoch, _ = one_epoch(base, dtype)
        seconds = epoch["train_seconds"]
        figures = {
            "dtype": dtype,
            "weights": str(next(model.parameters()).dtype).removeprefix("torch."),
            "tokens_per_second": round(epoch["train_tokens"] / seconds),
            "train_seconds": round(seconds, 2),
            "validation_share": round(1 - seconds / epoch["seconds"], 3),
            "mfu_bf16": round(flops / seconds / peaks["bf16"], 3),
            "bf16_peak_gflops": round(peaks["bf16"] / 1e9),
            "fp32_peak_gflops": round(peaks["fp32"] / 1e9),
        }
        print(json.dumps(figures), flush=True)


COPIES = {"aten::copy_", "aten::_to_copy", "aten::to", "aten::clone", "aten::contiguous"}
OPTIMIZER = {
    "aten::lerp_",
    "aten::sqrt",
    "aten::addcmul_",
    "aten::div_",
    "aten::linalg_vector_norm",
    "aten::where",
    "aten::stack",
    "aten::clamp",
    "aten::sub_",
    "aten::add_",
}
ELEMENT_WISE = ("mul", "add", "silu", "pow", "mean", "rsqrt", "neg", "cat", "softmax", "sum")
ELEMENT_WISE += ("div", "exp", "log", "sub", "fill", "zero", "bernoulli", "uniform", "sigmoid")


def share_of(name: str, shapes: str) -> str:
    """What an operator of a training step is for, by its name and input shapes."""
    if name == "aten::mm":
        return "the frozen model's products (mm)"
    if name == "aten::bmm":
        lora = ", 16]" in shapes or "[1, 16," in shapes  # rank 16
        return "the LoRA adapters' products (bmm)" if lora else "attention's products (bmm)"
    if name in COPIES:
        return "copies and casts"
    if name in OPTIMIZER:
        return "optimizer, clipping, gradient sums"
    if name.startswith("aten::") and any(k in name for k in ELEMENT_WISE):
        return "element-wise work"
    return "the rest (allocations, views, autograd, Python)"


def profile(dtype: str) -> None:
    """The operators of one epoch of 48 prompts by their own time, and their shares by what
    they are for (one JSON line)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiler

    base = base_model()
    one_epoch(base, dtype, rows=48)  # warm-up
    with profiler(activities=[ProfilerActivity.CPU], record_shapes=True) as measured:
        one_epoch(base, dtype, rows=48)
    averages = measured.key_averages(group_by_input_shape=True)
    print(averages.table(sort_by="self_cpu_time_total", row_limit=20, max_shapes_column_width=60))
    shares: dict[str, float] = {}
    for event in averages:
        what = share_of(event.key, str(event.input_shapes))
        shares[what] = shares.get(what, 0.0) + event.self_cpu_time_total / 1e6
    total = sum(shares.values())
    ordered = sorted(shares.items(), key=lambda item: -item[1])
    print(json.dumps({"seconds": round(total, 2), **{k: round(v / total, 3) for k, v in ordered}}))


def compiled(repeats: int) -> None:
    """The project's trainer with its blocks compiled (``training.compile: true``) against
    eager ones, one epoch of 96 iris prompts each: the first call's seconds (for the compiled
    trainer, the compilation: clear inductor's cache, ``/tmp/torchinductor_$USER``, to measure
    it cold) and the tokens per second of the next ``repeats``."""
    base = base_model()
    figures: dict[str, Any] = {}
    for name, compile_them in (("eager", False), ("compiled", True)):
        _, figures[f"{name}_first_call_seconds"] = one_epoch(
            base, "auto", 96, {"compile": compile_them}
        )
        rates = []
        for _ in range(repeats):
            epoch, _ = one_epoch(base, "auto", 96, {"compile": compile_them})
            rates.append(round(epoch["train_tokens"] / epoch["train_seconds"]))
        figures[f"{name}_tokens_per_second"] = rates
    print(json.dumps(figures))


def validation() -> None:
    """Validation's share of a fine-tuning like the default run's moons one (400 points: 256
    training and 64 validation rows, 5 epochs, classes scored), through the estimator: each
    epoch's validation seconds, their share of the fit, the validation curve (one JSON line)."""
    from sklearn.datasets import make_moons
    from sklearn.model_selection import train_test_split

    from lift import LIFTClassifier

    X, y = make_moons(n_samples=400, noise=0.1, random_state=123)
    X_fit, _, y_fit, _ = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    history = LIFTClassifier(epochs=5, models_dir=MODELS).fit(X_fit, y_fit).history_
    # an epoch's seconds count from its start: its validation is what follows its training
    gaps = [epoch["seconds"] - epoch["train_seconds"] for epoch in history]
    total = sum(epoch["seconds"] for epoch in history)
    figures = {
        "fit_seconds": round(total, 1),
        "validation_seconds": [round(gap, 2) for gap in gaps],
        "validation_share": round(sum(gaps) / total, 3),
        "validation_loss": [round(epoch["validation_loss"], 4) for epoch in history],
        "validation_accuracy": [epoch["validation_accuracy"] for epoch in history],
    }
    print(json.dumps(figures))


def memory(rows: int, tokens: int, models: str) -> None:
    """The peak resident memory of a first training step of ``rows`` prompts of ``tokens``
    tokens (Linux: the peak is reset before the forward pass) against ``training_memory``."""

    def status(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
        raise KeyError(key)

    # the CPU's resident memory: on the CPU also where a GPU is
    settings = LiftSettings.from_params(
        {"device": "cpu", "training": {"epochs": 1, "batch_size": rows}}
    )
    model, tokenizer = learner.load_base(base_model(models), settings)
    prompt = " ".join(["7"] * (tokens - 4)) + "###"
    pairs = ([prompt] * rows, [" 1@@@"] * rows)
    job = Job(pairs, (pairs[0][:1], pairs[1][:1]), lambda _: {}, settings.training, "loss")
    seen: dict[str, int] = {}
    slot_losses, update = fine_tuning._slot_losses, fine_tuning._update

    def first_forward(*args: Any) -> Any:
        if not seen:
            Path("/proc/self/clear_refs").write_text("5")
            seen["before"] = status("VmRSS")
        return slot_losses(*args)

    def first_update(*args: Any) -> None:
        update(*args)
        seen.setdefault("peak", status("VmHWM"))

    fine_tuning._slot_losses, fine_tuning._update = first_forward, first_update
    with learner.precision(settings):
        train_adapters(model, tokenizer, [job], settings.lora)
    attention = getattr(model.config, "_attn_implementation", None) or "eager"
    estimate = training_memory(model.config, tokens, rows, attention, model.dtype)
    measured = seen["peak"] - seen["before"]
    print(
        json.dumps(
            {
                "rows": rows,
                "tokens": tokens,
                "measured_mb": measured >> 20,
                "estimate_mb": estimate >> 20,
                "ratio": round(estimate / measured, 3),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cpu_training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    dtypes = get_args(LiftSettings.model_fields["dtype"].annotation)
    sub.add_parser("speed").add_argument("dtype", choices=dtypes)
    sub.choices["speed"].add_argument("--repeats", type=int, default=2)
    sub.add_parser("profile").add_argument("dtype", choices=dtypes)
    sub.add_parser("compile").add_argument("--repeats", type=int, default=2)
    sub.add_parser("memory").add_argument("rows", type=int)
    sub.choices["memory"].add_argument("tokens", type=int)
    sub.choices["memory"].add_argument("--models", default=MODELS, help="where the model is")
    sub.add_parser("validation")
    args = parser.parse_args()
    configure_threads()
    if args.command == "speed":
        speed(args.dtype, args.repeats)
    elif args.command == "profile":
        profile(args.dtype)
    elif args.command == "compile":
        compiled(args.repeats)
    elif args.command == "validation":
        validation()
    else:
        memory(args.rows, args.tokens, args.models)


if __name__ == "__main__":
    main()
