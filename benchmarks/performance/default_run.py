"""The default run (``make run``): its wall time, its time by phase and its metrics, against
the same run with the trainer of float32 weights and bfloat16 products (``lift.dtype: mixed``,
the CPU trainer before the base model was held in bfloat16)."""

from __future__ import annotations

import time
from typing import Any

from .machine import kedro_run, log, project_catalog

MIXED = "--params=classification.lift.dtype=mixed"


def timed_run(*arguments: str) -> tuple[float, dict[str, Any]]:
    """The seconds of `kedro run --pipelines=classification` with ``arguments``, and the
    metrics table it wrote (test rows: model -> metric -> value, per dataset)."""
    log(f"the default run: kedro run --pipelines=classification {' '.join(arguments)}")
    started = time.perf_counter()
    kedro_run("--pipelines=classification", *arguments)
    wall = time.perf_counter() - started
    log(f"default run: {wall:.0f} s")
    metrics = project_catalog().load("classification.metrics")
    return wall, metrics.to_dict(orient="records")


def default_run() -> dict[str, Any]:
    """Both runs in fresh processes, the mixed one first so that the latest artifacts (which
    the other sections read) are the default's."""
    mixed_wall, mixed_metrics = timed_run(MIXED)
    wall, metrics = timed_run()
    timings = project_catalog().load("run_timings")
    return {
        "wall_seconds": wall,
        "mixed_wall_seconds": mixed_wall,
        "default_run_speedup": mixed_wall / wall,
        "metrics": metrics,
        "mixed_metrics": mixed_metrics,
        **timings,
    }
