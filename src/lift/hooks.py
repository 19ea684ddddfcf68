"""Kedro hooks of the project."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
from kedro.framework.hooks import hook_impl

from lift.phases import PHASES, spent
from lift.reporting import metric_table, primary_metric

RUN_TIMINGS = "run_timings"  # the catalog entry the timings of every run are saved to


class ProjectParameters:
    """Hands the run's parameters (its ``--env`` and ``--params`` applied) to the pipeline
    registry, which builds one namespace per declared dataset. Kedro creates the context before
    it asks for pipelines."""

    parameters: dict[str, Any] | None = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        # the raw configuration: `context.params` would validate against the pipelines,
        # which are not built yet
        ProjectParameters.parameters = context.config_loader["parameters"]


class RunSummary:
    """Times every node by its phase tag (what the method library timed as another phase
    inside a node, ``lift.phases.timed``, counts there) and, at the end of a run, prints each
    metrics table the run wrote (its primary metric per dataset and model) and the seconds per
    phase, and saves the timings as the versioned ``run_timings`` artifact."""

    def __init__(self) -> None:
        self.started = 0.0
        self.nodes: dict[str, dict[str, Any]] = {}
        self._node_start: dict[str, tuple[float, dict[str, float]]] = {}

    @hook_impl
    def before_pipeline_run(self) -> None:
        self.started, self.nodes = time.perf_counter(), {}

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        self._node_start[node.name] = (time.perf_counter(), spent())

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        started, before = self._node_start.pop(node.name)
        phase = next((tag for tag in PHASES if tag in node.tags), "other")
        inside = {p: s - before.get(p, 0.0) for p, s in spent().items() if s > before.get(p, 0.0)}
        self.nodes[node.name] = {
            "phase": phase,
            "seconds": time.perf_counter() - started,
            # e.g. the base model, read from disk inside the first node that needs it
            "inside_seconds": inside,
        }

    def timings(self) -> dict[str, Any]:
        """Seconds of the run in all, per phase and per node."""
        phases = dict.fromkeys(PHASES, 0.0)
        for entry in self.nodes.values():
            phases[entry["phase"]] = phases.get(entry["phase"], 0.0) + entry["seconds"]
            for phase, seconds in entry["inside_seconds"].items():
                phases[entry["phase"]] -= seconds
                phases[phase] += seconds
        return {
            "total_seconds": time.perf_counter() - self.started,
            "phases": phases,
            "nodes": self.nodes,
        }

    @hook_impl
    def after_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        for name in sorted(pipeline.outputs()):
            if name.endswith(".metrics"):
                summary = catalog.load(name)
                metric = primary_metric(summary)
                what = "accuracy (%)" if metric == "accuracy" else f"{metric.upper()}"
                print(
                    f"\n{name}: test {what}, mean over {summary['repeats'].max()} "
                    f"repeat(s)\n{metric_table(summary).to_string()}\n"
                )
        timings = self.timings()
        table = pd.Series(timings["phases"], name="seconds").round(1)
        print(f"Run time by phase ({timings['total_seconds']:.0f} s in all)")
        print(table[table > 0].to_frame().T.to_string(index=False) + "\n")
        if RUN_TIMINGS in catalog:
            catalog.save(RUN_TIMINGS, timings)
