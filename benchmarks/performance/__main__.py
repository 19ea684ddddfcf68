"""`make bench`: how fast and how calibrated this project's LIFT is, on the machine it runs on.

Writes docs/performance.md and docs/performance.json from one run:

1. the float32 and bfloat16 matrix-multiply peaks of this machine (the MFU denominators);
2. the default run (`kedro run --pipelines=classification`, what `make run` runs): its wall
   time and its time by phase (the versioned `run_timings` artifact of that run);
3. training throughput of the project's trainer against a naive reference written here (LIFT's
   original loop: every sequence padded to the longest of the dataset, logits over the whole
   vocabulary at every position, loss by the model's `labels`), on the default run's training
   prompts, and the model-FLOPs utilization of the project's trainer;
4. many adapters at once: N = 1, 8 and 27 fine-tuning jobs trained together on one base model
   against the same jobs one after another;
5. test-set prediction with the default run's adapters: class scoring and greedy generation
   against LIFT-original-style generation (batches of 10, sampling, 10 new tokens, no stop),
   with accuracy, invalid rate, log-loss and ECE of each;
6. regression: the median of k sampled answers against one greedy answer (RAE and time), with
   the adapter of a `quadratic_p1` run;
7. serving: the default run's iris model as MLflow serves it (rows/s, one-row latency), in
   Python and over HTTP.

Each section is a module of this folder (machine, default_run, training, engine, prediction,
serving; report renders the page) and can be measured alone: `--only training engine` keeps
the other sections' figures from docs/performance.json, each with the date it was measured.
Every section is saved as soon as it is measured.

Run from the project root: `make bench` (or `.venv/bin/python -m benchmarks.performance`).
A GPU, when there is one, is used as the project uses it; the figures say which device.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from lift.method.language_model import configure_threads, select_device

from .default_run import default_run
from .engine import engine_benchmark
from .machine import DOCS, ROOT, log, machine, project_catalog
from .prediction import prediction_benchmark, regression_benchmark
from .report import ENGINE_JOBS, render
from .serving import serving_benchmark
from .training import training_benchmark

FIGURES = DOCS / "performance.json"


def sections(engine_examples: int | None) -> dict[str, Callable[[dict[str, Any]], Any]]:
    """Each section by name, in the order they run: a function of the machine's figures. The
    default run goes first: the others read its artifacts."""
    return {
        "default_run": lambda _: default_run(),
        "training": lambda peaks: training_benchmark(project_catalog(), peaks),
        "engine": lambda peaks: engine_benchmark(project_catalog(), peaks, engine_examples),
        "prediction": lambda _: prediction_benchmark(project_catalog()),
        "regression": lambda _: regression_benchmark(),
        "serving": lambda _: serving_benchmark(),
    }


def previous_figures() -> dict[str, Any]:
    """docs/performance.json as the last bench left it, each section with when and where it
    was measured (``measured``), or nothing."""
    if not FIGURES.exists():
        return {}
    previous = json.loads(FIGURES.read_text())
    if "measured" not in previous:  # written before sections carried their own date
        when = {"date": previous["date"], "machine": previous["machine"]}
        previous["measured"] = {name: when for name in sections(None) if name in previous}
        if "engine_date" in previous:
            previous["measured"]["engine"] = {
                "date": previous.pop("engine_date"),
                "machine": previous.pop("engine_machine"),
            }
    return previous


def headline(results: dict[str, Any]) -> dict[str, float]:
    """The figures the targets are set on, from the sections there are."""
    figures: dict[str, float] = {}
    if "training" in results:
        for key in ("train_speedup", "train_mfu", "train_mfu_bf16", "compiled_train_mfu_bf16"):
            figures[key] = results["training"].get(key, float("nan"))
    if "prediction" in results:
        figures["predict_speedup"] = results["prediction"]["score_speedup"]
    if "default_run" in results:
        figures["default_run_seconds"] = results["default_run"]["wall_seconds"]
        run = results["default_run"]
        for key, figure in (
            ("previous_run_speedup", "default_run_speedup"),
            ("float32_run_speedup", "float32_run_speedup"),
        ):
            if key in run:
                figures[figure] = run[key]
    if "engine" in results:
        for count in ENGINE_JOBS:
            for key in ("engine_speedup", "engine_mfu"):
                figures[f"{key}_{count}"] = results["engine"]["jobs"][str(count)][key]
    return figures


def main(argv: Sequence[str] | None = None) -> None:
    names = list(sections(None))
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.performance", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=names,
        default=names,
        metavar="SECTION",
        help=f"measure these sections ({', '.join(names)}); the others are kept from "
        "docs/performance.json, each with the date it was measured",
    )
    parser.add_argument(
        "--skip",
        nargs="+",
        choices=names,
        default=[],
        metavar="SECTION",
        help="measure every section but these (e.g. `--skip default_run` reuses the latest "
        "default run's artifacts)",
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
    examples = args.engine_examples or (None if select_device().type == "cuda" else 24)
    chosen = [name for name in names if name in args.only and name not in args.skip]

    results = previous_figures()
    results.setdefault("measured", {})
    results["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results["machine"] = machine()
    for name, measure in sections(examples).items():
        if name not in chosen:
            continue
        results[name] = measure(results["machine"])
        results["measured"][name] = {"date": results["date"], "machine": results["machine"]}
        results["headline"] = headline(results)
        # each section is kept as soon as it is measured: a later one that fails loses nothing
        FIGURES.write_text(json.dumps(results, indent=2, default=float))
        log(f"{name}: saved in docs/performance.json")
    (DOCS / "performance.md").write_text(render(results))
    log("wrote docs/performance.md")
    print(pd.Series(results["headline"]).to_string())


if __name__ == "__main__":
    main()
