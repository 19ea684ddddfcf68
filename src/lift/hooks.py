"""Kedro hooks of the project."""

from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl

from lift.reporting import metric_table, primary_metric


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
    """Prints each metrics table the run wrote: its primary metric (accuracy in percent, or
    RAE) per dataset and model."""

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
