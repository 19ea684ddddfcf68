"""The default run (``make run``): its wall time, its time by phase and its metrics, beside
the same run in float32 (``lift.dtype: float32``: weights and products, the default where the
CPU has no native bfloat16)."""

from __future__ import annotations

import time
from typing import Any

from .machine import kedro_run, log, project_catalog

FLOAT32 = "--params=classification.lift.dtype=float32"


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
    """Both runs in fresh processes, the float32 one first so that the latest artifacts
    (which the other sections read) are the default's."""
    float32_wall, float32_metrics = timed_run(FLOAT32)
    wall, metrics = timed_run()
    timings = project_catalog().load("run_timings")
    return {
        "wall_seconds": wall,
        "float32_wall_seconds": float32_wall,
        "float32_run_speedup": float32_wall / wall,
        "metrics": metrics,
        "float32_metrics": float32_metrics,
        **timings,
    }
