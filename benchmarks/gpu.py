"""The library on a GPU, measured without Kedro (a lent GPU machine carries the library and a
model, not the project's environment): the device's matrix-multiply peaks, the trainer's
tokens per second and model-FLOPs utilization at several batch sizes, and the fitted
estimator's answers per second and test accuracy, on one table as the estimator writes it
(scikit-learn's wine, a stratified 30 % of its rows held out). Each figure is written to
``--out`` as soon as it is measured.

    python -m benchmarks.gpu --model data/06_models/SmolLM2-135M-Instruct --out gpu.json
    python -m benchmarks.gpu --profile 8 --batch-sizes   # where a step's time goes, only

The model's weights do not change the rates: a model of the embedded model's architecture
with random weights measures the same. On a CPU it measures the same things, slowly
(``--batch-sizes 8 --epochs 2``)."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from lift import LIFTClassifier
from lift.data.splits import of_split
from lift.method.fine_tuning import encode
from lift.method.language_model import prepare_base_model

from .performance.machine import machine
from .performance.training import training_flops

PACKAGES = ("transformers", "peft", "pandas", "scikit-learn", "numpy")


def versions() -> dict[str, Any]:
    """The versions the library runs with (a lent machine's own, not the project's pins)."""
    found: dict[str, Any] = {name: importlib.metadata.version(name) for name in PACKAGES}
    found["cuda"] = torch.version.cuda
    return found


def epoch_flops(model_folder: str, prompts: pd.DataFrame) -> float:
    """Model FLOPs of one epoch over the training prompts of repeat 0
    (``training_flops``; the architecture alone, on the meta device)."""
    config = AutoConfig.from_pretrained(model_folder)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    tokenizer = AutoTokenizer.from_pretrained(model_folder)
    train = of_split(prompts, 0, "train")
    return training_flops(
        model, encode(tokenizer, train["prompt"].tolist(), train["completion"].tolist())
    )


def trainer_rate(
    model_folder: str, table: tuple[Any, ...], batch_size: int, epochs: int, compiled: bool
) -> dict[str, Any]:
    """The estimator fitted on the training rows of ``table`` (``X_train, X_test, y_train,
    y_test``) for ``epochs`` at ``batch_size``: the training rate of the epochs after the first
    (which pays the warm-up: kernels chosen, memory first taken), the seconds of validating an
    epoch, and the fitted model's answers on the test rows, their rate and accuracy."""
    X_train, X_test, y_train, y_test = table
    lift = {"training": {"epochs": epochs, "batch_size": batch_size, "compile": compiled}}
    estimator = LIFTClassifier(model_folder, lift=lift, random_state=0)
    started = time.perf_counter()
    estimator.fit(X_train, y_train)
    fitted = time.perf_counter()
    answers = estimator.predict(X_test)
    answered = time.perf_counter() - fitted
    history = estimator.history_
    later = history[1:] or history
    tokens = sum(e["train_tokens"] for e in later)
    seconds = sum(e["train_seconds"] for e in later)
    flops = epoch_flops(model_folder, estimator.prompts_) * len(later)
    return {
        "batch_size": batch_size,
        "compiled": compiled,
        "epochs": len(history),
        "first_epoch_train_seconds": history[0]["train_seconds"],
        "train_seconds_per_epoch": seconds / len(later),
        "train_tokens_per_second": tokens / seconds,
        "model_flops_per_second": flops / seconds,
        "validation_seconds_per_epoch": sum(e["seconds"] - e["train_seconds"] for e in history)
        / len(history),
        "fit_seconds": fitted - started,
        "answered_rows_per_second": len(X_test) / answered,
        "test_accuracy": float((answers == y_test).mean()),
    }


def step_profile(model_folder: str, batch_size: int, table_file: Path) -> dict[str, Any]:
    """Where a training step's time goes on this device: an epoch of the project's trainer
    on 96 iris prompts at ``batch_size`` under torch's profiler, after an epoch of warm-up.
    Per optimizer step: its wall seconds, the operators Python dispatched (top-level ``aten``
    calls) and their host seconds, and on a GPU the kernels launched and the seconds they ran:
    kernels busy for a small share of the wall time mean a step waits on the host. The
    operators' table, by their own host time, is written to ``table_file``."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    from lift.config.lift import LiftSettings
    from lift.method.language_model import BaseModel

    from .cpu_training import iris_pairs
    from .performance.training import project_epoch

    base = BaseModel(model_folder, model_folder)
    settings = LiftSettings.from_params({"training": {"batch_size": batch_size}})
    prompts, completions = iris_pairs()
    train, validation = (prompts[:96], completions[:96]), (prompts[96:104], completions[96:104])
    project_epoch(base, settings, train, validation)  # warm-up
    activities = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as measured:
        epoch, _ = project_epoch(base, settings, train, validation)
    events = measured.events()
    steps = -(-96 // batch_size)
    operators = [e for e in events if e.device_type == DeviceType.CPU and e.cpu_parent is None]
    dispatched = [e for e in operators if e.name.startswith("aten::")]
    kernels = [e for e in events if e.device_type == DeviceType.CUDA]
    averages = measured.key_averages()
    table_file.write_text(averages.table(sort_by="self_cpu_time_total", row_limit=30))
    return {
        "batch_size": batch_size,
        "steps": steps,
        "train_seconds_per_step": epoch["train_seconds"] / steps,
        "operators_per_step": len(dispatched) / steps,
        "operator_host_seconds_per_step": sum(e.cpu_time_total for e in dispatched) / 1e6 / steps,
        "kernels_per_step": len(kernels) / steps,
        "kernel_seconds_per_step": sum(e.time_range.elapsed_us() for e in kernels) / 1e6 / steps,
        "top_operators": [
            {
                "name": a.key,
                "calls_per_step": a.count / steps,
                "self_host_ms": a.self_cpu_time_total / 1e3 / steps,
            }
            for a in sorted(averages, key=lambda a: -a.self_cpu_time_total)[:10]
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a model folder; default: the embedded model")
    parser.add_argument("--out", type=Path, default=Path("gpu.json"))
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[8, 32, 128])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument(
        "--compiled", type=int, nargs="*", default=[], help="batch sizes also run compiled"
    )
    parser.add_argument(
        "--profile", type=int, metavar="BATCH", help="also profile a step at this batch size"
    )
    args = parser.parse_args()
    model_folder = args.model or prepare_base_model().path
    results: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}

    def save() -> None:
        args.out.write_text(json.dumps(results, indent=1))
        print(json.dumps(results["runs"][-1] if results.get("runs") else results), flush=True)

    results["machine"] = machine() | versions()
    save()
    wine = load_wine(as_frame=True)
    y = wine.target.map(dict(enumerate(wine.target_names))).to_numpy()
    table = train_test_split(wine.data, y, test_size=0.3, stratify=y, random_state=0)
    if args.profile:
        operators = args.out.with_name(f"{args.out.stem}_operators.txt")
        results["profile"] = step_profile(model_folder, args.profile, operators)
        save()
    results["runs"] = []
    plan = [(b, False) for b in args.batch_sizes] + [(b, True) for b in args.compiled]
    for batch_size, compiled in plan:
        run = trainer_rate(model_folder, table, batch_size, args.epochs, compiled)
        peaks = results["machine"]
        run["train_mfu_bf16"] = run["model_flops_per_second"] / peaks["bf16_peak_flops"]
        results["runs"].append(run)
        save()


if __name__ == "__main__":
    main()
