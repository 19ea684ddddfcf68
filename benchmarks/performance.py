"""`make bench`: how fast and how calibrated this project's LIFT is, on the machine it runs on.

Writes docs/performance.md and docs/performance.json from one run:

1. the float32 and bfloat16 matrix-multiply peaks of this machine (the MFU denominators);
2. the default run (`kedro run --pipelines=classification`, what `make run` runs): its wall
   time and its time by phase (the versioned `run_timings` artifact of that run);
3. training throughput of the project's trainer against a naive reference written here (LIFT's
   original loop: every sequence padded to the longest of the dataset, logits over the whole
   vocabulary at every position, loss by the model's `labels`), on the default run's training
   prompts, and the model-FLOPs utilization of the project's trainer;
4. test-set prediction with the default run's adapters: class scoring and greedy generation
   against LIFT-original-style generation (batches of 10, sampling, 10 new tokens, no stop),
   with accuracy, invalid rate, log-loss and ECE of each;
5. regression: the median of k sampled answers against one greedy answer (RAE and time), with
   the adapter of a `quadratic_p1` run.

Run from the project root: `make bench` (or `.venv/bin/python benchmarks/performance.py`).
A GPU, when there is one, is used as the project uses it; the figures say which device.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from peft import get_peft_model
from performance_report import (
    ENGINE_JOBS,
    NAIVE_BATCH,
    ORIGINAL_BATCH,
    ORIGINAL_NEW_TOKENS,
    REGRESSION_DATASET,
    REGRESSION_SAMPLES,
    render,
)
from transformers import GenerationConfig, get_linear_schedule_with_warmup

from lift.fine_tuning import LOSS, Job, encode, train_adapter, train_adapters
from lift.language_model import (
    BaseModel,
    configure_threads,
    cores,
    cpu_has_bf16,
    precision_used,
    select_device,
)
from lift.lift_model import answer_prompts, load_base, precision
from lift.lift_settings import LiftSettings, LoraSettings
from lift.metrics import classification_scores, regression_scores
from lift.splits import of_split
from lift.tasks import task_for

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DATASETS = ("iris", "moons")  # the default run's


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------- machine


def matmul_peak(dtype: torch.dtype, device: torch.device) -> float:
    """The best FLOP/s of square matrix products (1024 to 4096) in ``dtype`` on ``device``."""
    best = 0.0
    for size in (1024, 2048, 3072, 4096):
        a = torch.randn(size, size, device=device).to(dtype)
        b = torch.randn(size, size, device=device).to(dtype)
        a @ b  # warm-up
        repeats = 3 if device.type == "cpu" else 50
        for _ in range(3):
            _sync(device)
            started = time.perf_counter()
            for _ in range(repeats):
                a @ b
            _sync(device)
            best = max(best, repeats * 2 * size**3 / (time.perf_counter() - started))
    return best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def machine() -> dict[str, Any]:

    device = select_device()
    info = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "cpu": platform.processor() or platform.machine(),
        "cores": cores(),
        "torch_threads": torch.get_num_threads(),
        "cpu_native_bf16": cpu_has_bf16(),
        "torch": torch.__version__,
    }
    log("measuring the matrix-multiply peaks")
    info["fp32_peak_flops"] = matmul_peak(torch.float32, device)
    info["bf16_peak_flops"] = matmul_peak(torch.bfloat16, device)
    return info


# ------------------------------------------------------------------------------ default run


def default_run() -> dict[str, Any]:
    """`kedro run --pipelines=classification` in a fresh process: wall time and phases."""
    log("the default run: kedro run --pipelines=classification")
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "kedro"), "run", "--pipelines=classification"],
        cwd=ROOT,
        check=True,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"},
    )
    wall = time.perf_counter() - started
    catalog = project_catalog()
    timings = catalog.load("run_timings")
    log(f"default run: {wall:.0f} s")
    return {"wall_seconds": wall, **timings}


def project_catalog() -> Any:
    """The project's catalog (the latest version of every artifact)."""
    bootstrap_project(ROOT)
    with KedroSession.create(project_path=ROOT) as session:
        return session.load_context().catalog


# --------------------------------------------------------------------------------- training


def linear_parameters(model: Any) -> int:
    """Weights of the transformer blocks' linear layers (what every token multiplies by)."""
    layers = model.get_decoder().layers
    return sum(m.weight.numel() for m in layers.modules() if isinstance(m, torch.nn.Linear))


def training_flops(model: Any, examples: Sequence[Any]) -> float:
    """Model FLOPs of one LoRA training step over ``examples``: twice the forward pass (the
    backward pass computes input gradients; the frozen weights need none), the forward pass
    being the linear layers on every token, attention over the sequence and the LM head on the
    completion tokens. LoRA's own small products are not counted."""
    config = model.config
    linear = linear_parameters(model)
    attention_width = config.num_attention_heads * (
        getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    )
    total = 0.0
    for example in examples:
        tokens = len(example.prompt_ids) + len(example.completion_ids)
        forward = 2 * linear * tokens
        forward += 4 * config.num_hidden_layers * tokens**2 * attention_width
        forward += 2 * config.hidden_size * config.vocab_size * len(example.completion_ids)
        total += 2 * forward
    return total


def naive_epoch(
    model: Any, tokenizer: Any, prompts: list[str], completions: list[str], seed: int
) -> tuple[int, float]:
    """LIFT's original training loop, one epoch: the whole dataset tokenized with padding to
    its longest sequence, the model's own loss (logits over the vocabulary at every position)
    with the prompt and padding masked, AdamW with warm-up, float32. Returns the non-padding
    tokens and the seconds."""

    torch.manual_seed(seed)
    peft_model = get_peft_model(model, LoraSettings().peft_config())
    peft_model.train()
    eos = tokenizer.eos_token
    tokenizer.padding_side = "left"
    texts = [p + c + eos for p, c in zip(prompts, completions, strict=True)]
    encoded = tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
    completion_lengths = [
        len(tokenizer(c + eos, add_special_tokens=False).input_ids) for c in completions
    ]
    labels = encoded.input_ids.clone()
    for i, n in enumerate(completion_lengths):
        labels[i, :-n] = -100
    parameters = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=2e-3)
    steps = math.ceil(len(texts) / NAIVE_BATCH)
    scheduler = get_linear_schedule_with_warmup(optimizer, steps // 10, steps)
    device = next(peft_model.parameters()).device
    order = torch.randperm(len(texts)).tolist()

    def step(rows: list[int]) -> None:
        loss = peft_model(
            input_ids=encoded.input_ids[rows].to(device),
            attention_mask=encoded.attention_mask[rows].to(device),
            labels=labels[rows].to(device),
        ).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()

    batches = [order[s : s + NAIVE_BATCH] for s in range(0, len(order), NAIVE_BATCH)]
    for rows in batches[:3]:  # warm-up, as for the project's trainer
        step(rows)
    _sync(device)
    started = time.perf_counter()
    for rows in batches:
        step(rows)
    _sync(device)
    return int(encoded.attention_mask.sum()), time.perf_counter() - started


def project_epoch(
    base: Any,
    settings: Any,
    train: tuple[list[str], list[str]],
    validation: tuple[list[str], list[str]],
) -> dict[str, float]:
    """One epoch of the project's trainer with the run's settings: its history entry."""

    model, tokenizer = load_base(base, settings)
    with precision(settings):
        adapter = train_adapter(
            model,
            tokenizer,
            train,
            validation,
            lambda _: {"accuracy": 0.0},
            settings.lora,
            settings.overridden({"training": {"epochs": 1}}).training,
            description="bench: project trainer",
        )
    return adapter.history[0]


def training_benchmark(catalog: Any, peaks: dict[str, Any]) -> dict[str, Any]:
    """The project's trainer against the naive loop on the default run's training prompts."""
    base = BaseModel.from_dict(catalog.load("base_model"))
    results: dict[str, Any] = {"datasets": {}}
    totals = {"ours_tokens": 0, "ours_seconds": 0.0, "naive_tokens": 0, "naive_seconds": 0.0}
    flops = 0.0
    for name in DATASETS:
        prompts = catalog.load(f"classification.{name}.prompts")
        settings = catalog.load(f"classification.{name}.settings").lift
        train = of_split(prompts, 0, "train")
        pairs = (train["prompt"].tolist(), train["completion"].tolist())
        validation = of_split(prompts, 0, "validation").head(8)

        log(f"training throughput, {name}: the project's trainer")
        validation_pairs = (validation["prompt"].tolist(), validation["completion"].tolist())
        warm_up = 3 * settings.training.batch_size
        project_epoch(base, settings, (pairs[0][:warm_up], pairs[1][:warm_up]), validation_pairs)
        ours = project_epoch(base, settings, pairs, validation_pairs)
        log(f"training throughput, {name}: the naive loop")
        model, tokenizer = load_base(base, LiftSettings())
        naive_tokens, naive_seconds = naive_epoch(model, tokenizer, *pairs, seed=0)
        model, tokenizer = load_base(base, settings)
        flops += training_flops(model, encode(tokenizer, *pairs))
        results["datasets"][name] = {
            "examples": len(train),
            "tokens": naive_tokens,
            "ours_seconds": ours["train_seconds"],
            "naive_seconds": naive_seconds,
            "ours_tokens_per_second": ours["train_tokens"] / ours["train_seconds"],
            "naive_tokens_per_second": naive_tokens / naive_seconds,
            "ours_examples_per_second": len(train) / ours["train_seconds"],
            "naive_examples_per_second": len(train) / naive_seconds,
        }
        totals["ours_tokens"] += ours["train_tokens"]
        totals["ours_seconds"] += ours["train_seconds"]
        totals["naive_tokens"] += naive_tokens
        totals["naive_seconds"] += naive_seconds
    examples = sum(d["examples"] for d in results["datasets"].values())
    results.update(
        ours_tokens_per_second=totals["ours_tokens"] / totals["ours_seconds"],
        naive_tokens_per_second=totals["naive_tokens"] / totals["naive_seconds"],
        ours_examples_per_second=examples / totals["ours_seconds"],
        naive_examples_per_second=examples / totals["naive_seconds"],
        train_speedup=totals["naive_seconds"] / totals["ours_seconds"],
        model_flops_per_second=flops / totals["ours_seconds"],
    )
    results["train_mfu"] = results["model_flops_per_second"] / peaks["fp32_peak_flops"]
    results["train_mfu_bf16"] = results["model_flops_per_second"] / peaks["bf16_peak_flops"]
    return results


# ---------------------------------------------------------------------- many adapters at once


def engine_jobs(catalog: Any, count: int, examples: int | None) -> tuple[Any, list[Job]]:
    """``count`` fine-tuning jobs on the default run's training prompts, the datasets in turn,
    each its own seed (its own LoRA initialisation and data order), one epoch of ``examples``
    prompts (None: all), the run's settings otherwise; and those settings."""
    jobs, settings = [], None
    for i in range(count):
        name = DATASETS[i % len(DATASETS)]
        prompts = catalog.load(f"classification.{name}.prompts")
        settings = catalog.load(f"classification.{name}.settings").lift
        train = of_split(prompts, 0, "train").head(examples or len(prompts))
        validation = of_split(prompts, 0, "validation").head(8)
        training = settings.overridden({"training": {"epochs": 1, "seed": i}}).training
        jobs.append(
            Job(
                (train["prompt"].tolist(), train["completion"].tolist()),
                (validation["prompt"].tolist(), validation["completion"].tolist()),
                lambda _: {},
                training,
                select_on=LOSS,
                description=f"bench: {name} job {i}",
            )
        )
    return settings, jobs


def engine_benchmark(catalog: Any, peaks: dict[str, Any], examples: int | None) -> dict[str, Any]:
    """N = 1, 8 and 27 jobs trained together (``train_adapters``, one step for all) against
    the same jobs one after another (each alone, as ``fine_tuning.group: dataset`` trains
    them): tokens/s, model-FLOPs utilization and the ratio."""
    base = BaseModel.from_dict(catalog.load("base_model"))
    settings, warm_up = engine_jobs(catalog, 2, 3 * 8)
    model, tokenizer = load_base(base, settings)
    device = next(model.parameters()).device
    used = precision_used(device, settings.dtype)
    peak = peaks["bf16_peak_flops" if used["products"] == "bfloat16" else "fp32_peak_flops"]
    results: dict[str, Any] = {"precision": used, "examples_per_job": examples, "jobs": {}}
    with precision(settings):
        train_adapters(model, tokenizer, warm_up, settings.lora)
        for count in ENGINE_JOBS:
            _, jobs = engine_jobs(catalog, count, examples)
            flops = sum(training_flops(model, encode(tokenizer, *job.train)) for job in jobs)
            log(f"many adapters: {count} jobs together")
            with Timer(device) as together:
                adapters = train_adapters(model, tokenizer, jobs, settings.lora)
            tokens = sum(a.history[0]["train_tokens"] for a in adapters)
            log(f"many adapters: the same {count} jobs one after another")
            with Timer(device) as alone:
                for job in jobs:
                    train_adapters(model, tokenizer, [job], settings.lora)
            results["jobs"][str(count)] = {
                "tokens": tokens,
                "together_seconds": together.seconds,
                "alone_seconds": alone.seconds,
                "together_tokens_per_second": tokens / together.seconds,
                "alone_tokens_per_second": tokens / alone.seconds,
                "engine_speedup": alone.seconds / together.seconds,
                "engine_mfu": flops / together.seconds / peak,
                "alone_mfu": flops / alone.seconds / peak,
            }
    return results


# ------------------------------------------------------------------------------- prediction


def original_generation(model: Any, tokenizer: Any, prompts: list[str], seed: int) -> list[str]:
    """LIFT's original generation: prompts in order, batches of 10, left padding, sampling at
    temperature 1, 10 new tokens whatever they are (no stop criterion), adapter unmerged,
    float32."""
    torch.manual_seed(seed)
    tokenizer.padding_side = "left"
    config = GenerationConfig(
        max_new_tokens=ORIGINAL_NEW_TOKENS,
        min_new_tokens=ORIGINAL_NEW_TOKENS,
        do_sample=True,
        top_k=None,
        top_p=None,
        pad_token_id=tokenizer.pad_token_id,
    )
    device = next(model.parameters()).device
    texts = []
    with torch.inference_mode():
        for start in range(0, len(prompts), ORIGINAL_BATCH):
            encoded = tokenizer(
                prompts[start : start + ORIGINAL_BATCH], return_tensors="pt", padding=True
            ).to(device)
            output = model.generate(**encoded, generation_config=config)
            texts += tokenizer.batch_decode(
                output[:, encoded.input_ids.shape[1] :], skip_special_tokens=True
            )
    return texts


class Timer:
    """Seconds of a block, the device synchronized at both ends."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.seconds = device, 0.0

    def __enter__(self) -> Timer:
        _sync(self.device)
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        _sync(self.device)
        self.seconds = time.perf_counter() - self.started


def prediction_benchmark(catalog: Any) -> dict[str, Any]:
    """Class scoring, greedy generation and LIFT-original generation on the default run's
    test prompts, each with the same (repeat 0) adapter."""

    base = BaseModel.from_dict(catalog.load("base_model"))
    device = select_device()
    modes: dict[str, dict[str, Any]] = {"score": {}, "generate": {}, "original": {}}
    for name in DATASETS:
        prompts = catalog.load(f"classification.{name}.prompts")
        settings = catalog.load(f"classification.{name}.settings").lift
        adapter = catalog.load(f"classification.{name}.adapters")[0]
        schema = catalog.load(f"classification.{name}.schema")
        task = task_for(schema, settings.serialization.completion_suffix)
        test, train = of_split(prompts, 0, "test"), of_split(prompts, 0, "train")
        truth = test["target"].to_numpy()
        answer_prompts(base, adapter, test["prompt"].head(4), train, task, settings)  # warm-up
        for mode in ("score", "generate"):
            log(f"prediction, {name}: {mode}")
            with Timer(device) as timer:
                answers = answer_prompts(
                    base,
                    adapter,
                    test["prompt"],
                    train,
                    task,
                    settings.overridden({"generation": {"mode": mode}}),
                )
            scores = classification_scores(truth, answers.predictions, answers.probabilities)
            modes[mode][name] = {"seconds": timer.seconds, "rows": len(test), **scores}
        log(f"prediction, {name}: LIFT-original generation")
        model, tokenizer = load_base(base, LiftSettings())
        model = adapter.attach(model)
        with Timer(device) as timer:
            texts = original_generation(model, tokenizer, test["prompt"].tolist(), seed=0)
        answers = task.read([[t] for t in texts], train["target"].to_numpy())
        scores = classification_scores(truth, answers.predictions, answers.probabilities)
        modes["original"][name] = {"seconds": timer.seconds, "rows": len(test), **scores}
    summary: dict[str, Any] = {"modes": modes}
    for mode, by_dataset in modes.items():
        rows = sum(d["rows"] for d in by_dataset.values())
        seconds = sum(d["seconds"] for d in by_dataset.values())
        summary[f"{mode}_rows_per_second"] = rows / seconds
    for mode in ("score", "generate"):
        summary[f"{mode}_speedup"] = (
            summary[f"{mode}_rows_per_second"] / summary["original_rows_per_second"]
        )
    return summary


# ------------------------------------------------------------------------------- regression


def regression_benchmark() -> dict[str, Any]:
    """Greedy against the median of k samples, with the adapter of a quadratic_p1 run."""

    log(
        f"regression: kedro run --pipelines=regression --namespaces=regression.{REGRESSION_DATASET}"
    )
    subprocess.run(
        [
            str(Path(sys.executable).parent / "kedro"),
            "run",
            "--pipelines=regression",
            f"--namespaces=regression.{REGRESSION_DATASET}",
        ],
        cwd=ROOT,
        check=True,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"},
    )
    catalog = project_catalog()
    prefix = f"regression.{REGRESSION_DATASET}"
    base = BaseModel.from_dict(catalog.load("base_model"))
    settings = catalog.load(f"{prefix}.settings").lift
    prompts = catalog.load(f"{prefix}.prompts")
    adapter = catalog.load(f"{prefix}.adapters")[0]
    task = task_for(catalog.load(f"{prefix}.schema"), settings.serialization.completion_suffix)
    test, train = of_split(prompts, 0, "test"), of_split(prompts, 0, "train")
    results = {}
    for label, samples in (("greedy", 1), (f"median_of_{REGRESSION_SAMPLES}", REGRESSION_SAMPLES)):
        log(f"regression: {label}")
        with Timer(select_device()) as timer:
            answers = answer_prompts(
                base,
                adapter,
                test["prompt"],
                train,
                task,
                settings.overridden({"generation": {"samples": samples}}),
            )
        scores = regression_scores(test["target"].to_numpy(), answers.predictions, answers.valid)
        results[label] = {"seconds": timer.seconds, "rows": len(test), **scores}
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-run",
        action="store_true",
        help="reuse the latest default run's artifacts and timings instead of running it",
    )
    parser.add_argument("--skip-regression", action="store_true")
    parser.add_argument(
        "--only-engine",
        action="store_true",
        help="measure the many-adapters section alone; the other sections are kept from "
        "docs/performance.json (they say when they were measured)",
    )
    parser.add_argument(
        "--engine-examples",
        type=int,
        default=None,
        help="training prompts per job in the many-adapters section (default: all of a "
        "dataset's on a GPU, 24 on a CPU, where 27 jobs twice take minutes)",
    )
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    configure_threads()
    results: dict[str, Any] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
    results["machine"] = machine()
    examples = args.engine_examples or (None if select_device().type == "cuda" else 24)
    if args.only_engine:
        previous = json.loads((DOCS / "performance.json").read_text())
        results = {**previous, "engine_date": results["date"], "engine_machine": results["machine"]}
        results["engine"] = engine_benchmark(project_catalog(), results["engine_machine"], examples)
    else:
        if args.skip_run:
            previous = json.loads((DOCS / "performance.json").read_text())
            results["default_run"] = previous["default_run"]
        else:
            results["default_run"] = default_run()
        catalog = project_catalog()
        results["training"] = training_benchmark(catalog, results["machine"])
        results["engine"] = engine_benchmark(catalog, results["machine"], examples)
        results["prediction"] = prediction_benchmark(catalog)
        if not args.skip_regression:
            results["regression"] = regression_benchmark()
    results["headline"] = {
        "train_speedup": results["training"]["train_speedup"],
        "train_mfu": results["training"]["train_mfu"],
        "predict_speedup": results["prediction"]["score_speedup"],
        "default_run_seconds": results["default_run"]["wall_seconds"],
        **{
            f"{key}_{count}": results["engine"]["jobs"][str(count)][key]
            for count in ENGINE_JOBS
            for key in ("engine_speedup", "engine_mfu")
        },
    }
    DOCS.mkdir(exist_ok=True)
    (DOCS / "performance.json").write_text(json.dumps(results, indent=2, default=float))
    (DOCS / "performance.md").write_text(render(results))
    log("wrote docs/performance.md and docs/performance.json")
    print(pd.Series(results["headline"]).to_string())


if __name__ == "__main__":
    main()
