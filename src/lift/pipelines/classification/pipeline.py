"""The classification pipeline. Per dataset namespace:

    acquire (or describe_file) -> prepare -> split
        split -> serialize -> fine_tune -> predict_lift ---> evaluate
        split -> fit_baselines -> predict_baselines -------> evaluate

once for the run: prepare_base_model, and over all datasets: report."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline, node

from lift.acquisition import DatasetSpec
from lift.errors import DatasetInputError
from lift.pipelines.classification import nodes

TASK = "classification"
# parameters every dataset shares; they keep their names inside each dataset's namespace
SHARED_PARAMETERS = {"openml_cache", "split", "baselines", "lift"}
BASE_MODEL = "base_model"  # shared by every dataset (and task)


def _for_dataset(function: Callable[..., Any], dataset: str) -> Callable[..., Any]:
    return update_wrapper(partial(function, dataset=dataset), function)


def dataset_pipeline(spec: DatasetSpec) -> Pipeline:
    """The nodes of one dataset, in namespace ``classification.<name>``."""
    name = spec.name
    if spec.kind == "file":
        intake: Node = node(
            _for_dataset(nodes.describe_file, name),
            ["raw_table", "params:dataset"],
            "source_info",
            name="describe_file",
        )
    else:
        intake = node(
            _for_dataset(nodes.acquire, name),
            ["params:dataset", "params:openml_cache"],
            ["raw_table", "source_info"],
            name="acquire",
        )
    steps = Pipeline(
        [
            intake,
            node(
                _for_dataset(nodes.prepare, name),
                ["raw_table", "source_info", "params:dataset"],
                ["table", "schema"],
                name="prepare",
            ),
            node(
                _for_dataset(nodes.split, name),
                ["table", "schema", "params:split"],
                "splits",
                name="split",
            ),
            node(
                _for_dataset(nodes.fit_baselines, name),
                ["table", "schema", "splits", "params:baselines"],
                "baseline_models",
                name="fit_baselines",
            ),
            node(
                nodes.predict_baselines,
                ["baseline_models", "table", "schema", "splits"],
                "baseline_predictions",
                name="predict_baselines",
            ),
            node(
                nodes.serialize,
                ["table", "schema", "splits", "params:lift"],
                "prompts",
                name="serialize",
            ),
            node(
                _for_dataset(nodes.fine_tune, name),
                ["prompts", "schema", BASE_MODEL, "params:lift"],
                "adapters",
                name="fine_tune",
            ),
            node(
                _for_dataset(nodes.predict_lift, name),
                ["adapters", "prompts", "schema", BASE_MODEL, "params:lift"],
                "lift_predictions",
                name="predict_lift",
            ),
            node(
                _for_dataset(nodes.evaluate, name),
                ["splits", "baseline_predictions", "lift_predictions"],
                "scores",
                name="evaluate",
            ),
        ]
    )
    shared = {p for p in SHARED_PARAMETERS if f"params:{p}" in steps.inputs()}
    return Pipeline(
        steps,
        namespace=f"{TASK}.{name}",
        inputs={BASE_MODEL},
        parameters={"dataset": f"{TASK}.datasets.{name}", **{p: f"{TASK}.{p}" for p in shared}},
    )


def active(datasets: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Mapping[str, Any]]:
    """The declared datasets, less those an environment switched off with ``name: null``."""
    return {name: params for name, params in datasets.items() if params is not None}


def create_pipeline(datasets: Mapping[str, Mapping[str, Any]] | None = None, **_: Any) -> Pipeline:
    """The classification pipeline over ``datasets`` (the ``classification.datasets``
    parameter: dataset name -> its parameters)."""
    datasets = active(datasets or {})
    if not datasets:
        raise DatasetInputError(
            "Parameter `classification.datasets` is empty: declare at least one dataset in "
            "conf/base/parameters_classification.yml."
        )
    specs = [DatasetSpec.from_params(name, params) for name, params in datasets.items()]
    report = node(
        nodes.report,
        [f"params:{TASK}.datasets", *[f"{TASK}.{spec.name}.scores" for spec in specs]],
        [f"{TASK}.metrics", f"{TASK}.metrics_plot"],
        name="report",
        namespace=TASK,
    )
    base_model = node(
        nodes.prepare_base_model,
        "params:lift.model",
        BASE_MODEL,
        name="prepare_base_model",
    )
    return Pipeline([base_model, *map(dataset_pipeline, specs), report])
