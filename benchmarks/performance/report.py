"""The page `make bench` writes: docs/performance.md from the figures that the sections of
`benchmarks/performance` measured (docs/performance.json holds the same figures)."""

from __future__ import annotations

from typing import Any

NO_GPU = (
    "No GPU in this run: the GPU figures are not measured here. An H200's, measured by "
    "`python -m benchmarks.gpu`: [The GPU path, measured](gpu.md)."
)

NAIVE_BATCH = 8  # the project's default training batch size, for both trainers
ORIGINAL_BATCH = 10  # LIFT's original generation batch
ORIGINAL_NEW_TOKENS = 10
REGRESSION_DATASET = "quadratic_p1"
REGRESSION_SAMPLES = 5
ENGINE_JOBS = (1, 8, 27)  # adapters trained at once in the many-adapters section
TARGETS = {
    "train_speedup": 1.5,
    "train_mfu": 0.6,
    "train_mfu_bf16": 0.6,
    "predict_speedup": 10.0,
    "default_run_seconds": 300.0,
    "default_run_speedup": 2.0,  # the previous default trainer's run over today's
}
ENGINE_TARGET = 1.0  # many adapters together at least as fast as one after another, N > 1
# the default run's companions: by name, the `lift.dtype` each sets and what that is
OTHER_RUNS = {
    "float32": ("float32", "weights and products in float32"),
    "previous": (
        "mixed",
        "the previous default trainer: float32 weights, each cast to bfloat16 at every product, "
        "as the default trained before 2026-12-03; the trainer's other changes since then are "
        "in both runs",
    ),
}


def render(results: dict[str, Any]) -> str:
    m, run, train, predict = (
        results["machine"],
        results["default_run"],
        results["training"],
        results["prediction"],
    )
    headline = results["headline"]
    lines = [
        "# Performance",
        "",
        f"Written by `make bench` on {results['date']} ({m['device']}, {m['cpu']}, "
        f"{m['cores']} cores, torch {m['torch']}, {m['torch_threads']} threads, native CPU bf16: "
        f"{m['cpu_native_bf16']}). {earlier_sections(results)}"
        "`docs/performance.json` holds every figure.",
        "",
        "## Headline",
        "",
        "| figure | measured | target |",
        "|---|---|---|",
    ]
    for key, target in TARGETS.items():
        better = "<=" if key == "default_run_seconds" else ">="
        value = f"{headline[key]:.2f}" if key in headline else "not measured"
        lines.append(f"| `{key}` | {value} | {better} {target} |")
    for key in ("compiled_train_mfu_bf16", "float32_run_speedup"):
        if key in headline:
            lines.append(f"| `{key}` | {headline[key]:.2f} | |")
    for count in ENGINE_JOBS:
        for key in ("engine_speedup", "engine_mfu"):
            target = f">= {ENGINE_TARGET}" if key == "engine_speedup" and count > 1 else ""
            value = headline[f"{key}_{count}"]
            lines.append(f"| `{key}`, N = {count} | {value:.2f} | {target} |")
    lines += [
        "",
        f"Matrix-multiply peaks measured in this run: float32 {m['fp32_peak_flops'] / 1e9:.0f} "
        f"GFLOP/s, bfloat16 {m['bf16_peak_flops'] / 1e9:.0f} GFLOP/s.",
        "",
        "## The default run (`make run`)",
        "",
        f"`kedro run --pipelines=classification` (iris and moons-400): **{run['wall_seconds']:.0f}"
        f" s** wall, process start included; the `run_timings` artifact of that run:",
        "",
        "| phase | seconds |",
        "|---|---|",
        *(f"| {phase} | {seconds:.1f} |" for phase, seconds in run["phases"].items()),
        f"| (run, as the hook saw it) | {run['total_seconds']:.1f} |",
        *other_runs(run),
        "",
        "## Training",
        "",
        "One epoch over each default dataset's training prompts (after a 3-batch warm-up), batch "
        f"{NAIVE_BATCH}, LoRA rank 16 on every linear layer. *Naive*: LIFT's original loop "
        "(padding to the dataset's longest sequence, the model's `labels` loss: logits over the "
        "whole vocabulary at every position, float32; the same loaded model). *Project*: "
        "`lift.method.fine_tuning.train_adapter` with the run's settings (length-grouped "
        "left-padded batches, logits only at completion positions, eager attention on a CPU; "
        "the frozen base held in bfloat16 where the CPU multiplies bfloat16 natively, the "
        "adapters and their optimizer state in float32). *Compiled*: the same with "
        "`training.compile: true` (the blocks compiled by `torch.compile`), measured after its "
        "compilation. *Previous*: the previous default, float32 weights cast to bfloat16 at "
        "every product (`torch.autocast`), where the CPU has native bfloat16.",
        "",
        "| dataset | examples | tokens | naive tok/s | project tok/s | compiled tok/s | "
        "previous tok/s |",
        "|---|---|---|---|---|---|---|",
    ]

    def rate(d: dict[str, Any], kind: str) -> str:
        value = d.get(f"{kind}_tokens_per_second")
        return f"{value:.0f}" if value else "not measured"

    for name, d in train["datasets"].items():
        lines.append(
            f"| {name} | {d['examples']} | {d['tokens']} | {rate(d, 'naive')} | "
            f"{rate(d, 'ours')} | {rate(d, 'compiled')} | {rate(d, 'previous')} |"
        )
    lines += [
        "",
        f"`train_speedup` = {train['train_speedup']:.2f} (time of the naive epochs over the "
        f"project's). Model FLOPs: {train['model_flops_per_second'] / 1e9:.0f} GFLOP/s, "
        f"`train_mfu` = {train['train_mfu']:.2f} of the float32 peak "
        f"({train['train_mfu_bf16']:.2f} of the bfloat16 peak); compiled: "
        f"{train['compiled_model_flops_per_second'] / 1e9:.0f} GFLOP/s, "
        f"{train['compiled_train_mfu_bf16']:.2f} of the bfloat16 peak "
        f"({train['compiled_speedup']:.2f} times the eager trainer's speed, after "
        f"{train['compile_seconds']:.0f} s of compilation on the first dataset)"
        + (
            f"; the previous default took {train['previous_speedup']:.2f} times the project's time."
            if "previous_speedup" in train
            else "."
        )
        + " FLOPs counted per sequence of "
        "T tokens with C completion tokens: 2 x (2·P·T + 4·L·T²·d_attn + 2·d·V·C), P the "
        "transformer blocks' linear weights, the factor 2 for the backward pass (input "
        "gradients only: the base weights are frozen); LoRA's own products not counted.",
        "",
        *engine_section(results),
        "## Prediction",
        "",
        "The test prompts of each default dataset, with its run's adapter (repeat 0). *score*: "
        "each class's completion scored after one forward pass per prompt batch (key/value "
        "cache shared by the classes), the base in the precision the adapter was trained "
        "against (float32 weights with the adapter merged, bfloat16 ones with it beside "
        "them); *generate*: greedy decoding that stops "
        "at EOS or a newline; *original*: LIFT's original generation (batches of 10, sampling "
        "at temperature 1, 10 new tokens, no stop, float32, adapter unmerged). Invalid answers "
        "count as wrong; log-loss and ECE use the class probabilities (score: softmax over the "
        "classes' completion log-probabilities; generated answers: one-hot, uniform if invalid).",
        "",
        "| mode | dataset | rows | seconds | rows/s | accuracy | invalid | log-loss | ECE |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, by_dataset in predict["modes"].items():
        for name, d in by_dataset.items():
            lines.append(
                f"| {mode} | {name} | {d['rows']} | {d['seconds']:.2f} | "
                f"{d['rows'] / d['seconds']:.1f} | {d['accuracy']:.4f} | "
                f"{d['invalid_rate']:.3f} | {d['log_loss']:.3f} | {d['ece']:.3f} |"
            )
    lines += [
        "",
        f"`predict_speedup` (score over original) = {predict['score_speedup']:.1f}; greedy "
        f"generation over original = {predict['generate_speedup']:.1f}.",
        "",
    ]
    if results.get("regression"):
        lines += [
            "## Regression: greedy or the median of samples",
            "",
            f"The test prompts of `{REGRESSION_DATASET}` with the adapter of a regression run of "
            f"it; the median of {REGRESSION_SAMPLES} answers sampled at temperature 1 against "
            "one greedy answer.",
            "",
            "| answers | seconds | RAE | RMSE | invalid |",
            "|---|---|---|---|---|",
            *(
                f"| {label} | {d['seconds']:.1f} | {d['rae']:.4f} | {d['rmse']:.4f} | "
                f"{d['invalid_rate']:.3f} |"
                for label, d in results["regression"].items()
            ),
            "",
        ]
    lines += serving_section(results)
    lines += [
        "## GPU",
        "",
        results.get("gpu_note", NO_GPU),
        "",
    ]
    return "\n".join(lines)


def other_runs(run: dict[str, Any]) -> list[str]:
    """The default run in float32 and with the previous default trainer beside it, and the
    runs' LIFT accuracies."""

    def accuracies(rows: list[dict[str, Any]]) -> str:
        return ", ".join(
            f"{row['dataset']} {row['accuracy']:.4f}" for row in rows if row["model"] == "lift"
        )

    lines = []
    for name, (dtype, words) in OTHER_RUNS.items():
        if f"{name}_wall_seconds" in run:
            lines += [
                "",
                f"The same run with `--params=classification.lift.dtype={dtype}` ({words}): "
                f"{run[f'{name}_wall_seconds']:.0f} s (the default "
                f"is {run[f'{name}_run_speedup']:.2f} times as fast). LIFT's test accuracy: "
                f"{accuracies(run['metrics'])} (default); {accuracies(run[f'{name}_metrics'])} "
                f"({name}).",
            ]
    return lines


def serving_section(results: dict[str, Any]) -> list[str]:
    """The served iris model: one-row latency and rows per second, in Python and over HTTP."""
    if "serving" not in results:
        return []
    serving = results["serving"]
    python, http = serving["python"], serving["http"]
    return [
        "## Serving",
        "",
        "The default run's iris model as MLflow serves it (`models:/classification.iris/latest`,"
        " [Serve a trained table](how-to/serve.md)), after it is loaded: the median of 20 "
        f"one-row requests, and one request of all {serving['rows']} iris rows.",
        "",
        "| | one row (ms) | rows/s | ready after (s) |",
        "|---|---|---|---|",
        f"| Python (`mlflow.pyfunc.load_model`) | {python['one_row_ms']:.0f} | "
        f"{python['rows_per_second']:.1f} | {python['load_seconds']:.1f} (load) |",
        f"| HTTP (`mlflow models serve`) | {http['one_row_ms']:.0f} | "
        f"{http['rows_per_second']:.1f} | {http['ready_seconds']:.1f} (until /ping) |",
        "",
    ]


def earlier_sections(results: dict[str, Any]) -> str:
    """A sentence naming the sections measured in another run of the bench (``--only``), with
    when and where each was; none: every figure is from this run."""
    elsewhere = [
        f"{name} ({when['date']}, {when['machine']['device']})"
        for name, when in results["measured"].items()
        if when["date"] != results["date"]
    ]
    if not elsewhere:
        return "Every figure below comes from that one run; "
    return f"Measured in other runs of the bench: {', '.join(elsewhere)}; the rest in this one. "


def engine_section(results: dict[str, Any]) -> list[str]:
    """The many-adapters section: N jobs in one step against the same jobs one by one."""
    engine = results["engine"]
    measured = results["measured"]["engine"]
    machine, when = measured["machine"], measured["date"]
    examples = engine["examples_per_job"]
    lines = [
        "## Many adapters at once",
        "",
        f"Measured {when} on {machine['device']} ({machine['cores']} cores), products in "
        f"{engine['precision']['products']}. N fine-tuning jobs of the embedded model, the "
        "default datasets in turn, each its own seed, one epoch of "
        f"{examples or 'all its'} training prompts, batch 8: *together*, "
        "`fine_tuning.train_adapters` with the jobs in the same steps on one base model, as "
        "many at once as the free memory holds (`slots`, `fine_tuning.group: together`); "
        "*alone*, the same jobs one after another (each alone, as `group: dataset` trains "
        "them). `engine_speedup` = alone seconds / together seconds; "
        "`engine_mfu` = model FLOPs (as above) per second of the together run over the peak "
        "of the products' dtype measured in the same run. Seconds include each job's "
        "validation after its epoch.",
        "",
        "| jobs | slots | tokens | together s | alone s | together tok/s | alone tok/s | "
        "`engine_speedup` | `engine_mfu` | alone MFU |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for count, d in engine["jobs"].items():
        lines.append(
            f"| {count} | {d.get('slots', count)} | {d['tokens']} | {d['together_seconds']:.1f} | "
            f"{d['alone_seconds']:.1f} | {d['together_tokens_per_second']:.0f} | "
            f"{d['alone_tokens_per_second']:.0f} | {d['engine_speedup']:.2f} | "
            f"{d['engine_mfu']:.3f} | {d['alone_mfu']:.3f} |"
        )
    return [*lines, ""]
