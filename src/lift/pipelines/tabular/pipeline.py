"""The per-dataset pipeline both tasks share. Per dataset namespace ``<task>.<name>``:

    acquire (or describe_file) -> prepare -> split
        split -> serialize -> fine_tune -> predict_lift ---> evaluate
                 (lift_settings: the task's, with the dataset's overrides)
        split -> fit_baselines -> predict_baselines -------> evaluate

once for the run: prepare_base_model, and over all datasets: report. A task adds its own
steps to a dataset's namespace (regression: the extrapolation plot)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline, node

from lift import baselines
from lift.acquisition import DatasetSpec
from lift.errors import DatasetInputError
from lift.pipelines.tabular import nodes

# The phases of a run, one tag per node: the end-of-run summary times them, and
# `kedro run --tags=<phase>` runs one (the model's reading from disk, which happens inside the
# first node that needs it, counts as model_load).
PHASES = ("data", "model_load", "serialization", "training", "prediction", "baselines", "reporting")

# parameters every dataset of a task shares; they keep their names inside each namespace
SHARED_PARAMETERS = {"openml_cache", "split", "baselines", "lift", "extrapolation"}
BASE_MODEL = "base_model"  # shared by every dataset and task


def bind(function: Callable[..., Any], **keywords: Any) -> Callable[..., Any]:
    """``function`` with keywords bound (the dataset, the task), keeping its name for Kedro."""
    return update_wrapper(partial(function, **keywords), function)


def dataset_pipeline(
    spec: DatasetSpec, task: str, extra: Callable[[DatasetSpec], list[Node]] | None = None
) -> Pipeline:
    """The nodes of one dataset, and the task's ``extra`` ones, in namespace ``<task>.<name>``."""
    name = spec.name
    if spec.kind == "file":
        intake: Node = node(
            bind(nodes.describe_file, dataset=name),
            ["raw_table", "params:dataset"],
            "source_info",
            name="describe_file",
            tags="data",
        )
    else:
        intake = node(
            bind(nodes.acquire, dataset=name, task=task),
            ["params:dataset", "params:openml_cache"],
            ["raw_table", "source_info"],
            name="acquire",
            tags="data",
        )
    steps = Pipeline(
        [
            intake,
            node(
                bind(nodes.prepare, dataset=name, task=task),
                ["raw_table", "source_info", "params:dataset"],
                ["table", "schema"],
                name="prepare",
                tags="data",
            ),
            node(
                bind(nodes.split, dataset=name),
                ["table", "schema", "params:split"],
                "splits",
                name="split",
                tags="data",
            ),
            node(
                bind(nodes.fit_baselines, dataset=name),
                ["table", "schema", "splits", "params:baselines"],
                "baseline_models",
                name="fit_baselines",
                tags="baselines",
            ),
            node(
                baselines.predict_baselines,
                ["baseline_models", "table", "schema", "splits"],
                "baseline_predictions",
                name="predict_baselines",
                tags="baselines",
            ),
            node(
                bind(nodes.lift_settings, dataset=name),
                ["params:lift", "params:dataset"],
                "lift_settings",
                name="lift_settings",
                tags="serialization",
            ),
            node(
                nodes.serialize,
                ["table", "schema", "splits", "lift_settings"],
                "prompts",
                name="serialize",
                tags="serialization",
            ),
            node(
                bind(nodes.fine_tune, dataset=name),
                ["prompts", "schema", BASE_MODEL, "lift_settings"],
                "adapters",
                name="fine_tune",
                tags="training",
            ),
            node(
                bind(nodes.predict_lift, dataset=name),
                ["adapters", "prompts", "schema", BASE_MODEL, "lift_settings"],
                "lift_predictions",
                name="predict_lift",
                tags="prediction",
            ),
            node(
                bind(nodes.evaluate, dataset=name, task=task),
                ["splits", "baseline_predictions", "lift_predictions"],
                "scores",
                name="evaluate",
                tags="reporting",
            ),
            *(extra(spec) if extra else []),
        ]
    )
    shared = {p for p in SHARED_PARAMETERS if f"params:{p}" in steps.inputs()}
    return Pipeline(
        steps,
        namespace=f"{task}.{name}",
        inputs={BASE_MODEL},
        parameters={"dataset": f"{task}.datasets.{name}", **{p: f"{task}.{p}" for p in shared}},
    )


def active(datasets: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Mapping[str, Any]]:
    """The declared datasets, less those an environment switched off with ``name: null``."""
    return {name: params for name, params in datasets.items() if params is not None}


def create_pipeline(
    task: str,
    datasets: Mapping[str, Mapping[str, Any] | None] | None = None,
    extra: Callable[[DatasetSpec], list[Node]] | None = None,
) -> Pipeline:
    """The pipeline of ``task`` over ``datasets`` (the ``<task>.datasets`` parameter: dataset
    name -> its parameters), with the task's ``extra`` nodes per dataset."""
    datasets = active(datasets or {})
    if not datasets:
        raise DatasetInputError(
            f"Parameter `{task}.datasets` is empty: declare at least one dataset in "
            f"conf/base/parameters_{task}.yml."
        )
    specs = [DatasetSpec.from_params(name, params) for name, params in datasets.items()]
    report = node(
        bind(nodes.report, task=task),
        [f"params:{task}.datasets", *[f"{task}.{spec.name}.scores" for spec in specs]],
        [f"{task}.metrics", f"{task}.metrics_plot"],
        name="report",
        tags="reporting",
        namespace=task,
    )
    base_model = node(
        nodes.prepare_base_model,
        "params:lift.model",
        BASE_MODEL,
        name="prepare_base_model",
        tags="model_load",
    )
    return Pipeline([base_model, *(dataset_pipeline(spec, task, extra) for spec in specs), report])
