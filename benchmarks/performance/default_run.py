"""The default run (``make run``): its wall time, its time by phase and its metrics, beside
the same run in float32 (``lift.dtype: float32``: weights and products, the default where the
CPU has no native bfloat16) and, where the CPU has native bfloat16, with the previous default
trainer (``lift.dtype: mixed``: float32 weights cast to bfloat16 at every product)."""

from __future__ import annotations

import time
from typing import Any

from lift.method.language_model import cpu_has_bf16, select_device

from .machine import kedro_run, log, project_catalog
from .report import OTHER_RUNS


def timed_run(*arguments: str) -> tuple[float, list[dict[str, Any]]]:
    """The seconds of `kedro run --pipelines=classification` with ``arguments``, and the
    metrics table it wrote (a record per dataset and model)."""
    log(f"the default run: kedro run --pipelines=classification {' '.join(arguments)}")
    started = time.perf_counter()
    kedro_run("--pipelines=classification", *arguments)
    wall = time.perf_counter() - started
    log(f"default run: {wall:.0f} s")
    metrics = project_catalog().load("classification.metrics")
    return wall, metrics.to_dict(orient="records")


def default_run() -> dict[str, Any]:
    """Every run in a fresh process, the default last so that the latest artifacts (which the
    other sections read) are the default's. ``<name>_run_speedup``: the other run's seconds
    over the default's."""
    others = dict(OTHER_RUNS)
    if not (select_device("auto").type == "cpu" and cpu_has_bf16()):
        del others["previous"]  # elsewhere the previous default was today's precision
    results: dict[str, Any] = {}
    for name, (dtype, _) in others.items():
        wall, metrics = timed_run(f"--params=classification.lift.dtype={dtype}")
        results[f"{name}_wall_seconds"], results[f"{name}_metrics"] = wall, metrics
    wall, metrics = timed_run()
    for name in others:
        results[f"{name}_run_speedup"] = results[f"{name}_wall_seconds"] / wall
    timings = project_catalog().load("run_timings")
    return {"wall_seconds": wall, "metrics": metrics, **results, **timings}
