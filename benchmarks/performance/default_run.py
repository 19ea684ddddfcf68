"""The default run (``make run``): its wall time and its time by phase."""

from __future__ import annotations

import time
from typing import Any

from .machine import kedro_run, log, project_catalog


def default_run() -> dict[str, Any]:
    """`kedro run --pipelines=classification` in a fresh process: wall time and phases."""
    log("the default run: kedro run --pipelines=classification")
    started = time.perf_counter()
    kedro_run("--pipelines=classification")
    wall = time.perf_counter() - started
    catalog = project_catalog()
    timings = catalog.load("run_timings")
    log(f"default run: {wall:.0f} s")
    return {"wall_seconds": wall, **timings}
