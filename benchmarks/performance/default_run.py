"""The default run (``make run``): its wall time, its time by phase and its metrics, beside
the same run with the frozen base model held in bfloat16 (``lift.dtype: bfloat16``)."""

from __future__ import annotations

import time
from typing import Any

from .machine import kedro_run, log, project_catalog

BF16 = "--params=classification.lift.dtype=bfloat16"


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
    """Both runs in fresh processes, the bfloat16 one first so that the latest artifacts
    (which the other sections read) are the default's."""
    bf16_wall, bf16_metrics = timed_run(BF16)
    wall, metrics = timed_run()
    timings = project_catalog().load("run_timings")
    return {
        "wall_seconds": wall,
        "bf16_wall_seconds": bf16_wall,
        "bf16_run_speedup": wall / bf16_wall,
        "metrics": metrics,
        "bf16_metrics": bf16_metrics,
        **timings,
    }
