"""The regression pipeline: the shared per-dataset pipeline (``pipelines/tabular``) under
``regression.<dataset>``; for a one-feature synthetic function also

    extrapolation_grid -> extrapolate (LIFT and two baselines) -> plot_extrapolation

and the report over all datasets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Node, Pipeline, node

from lift.acquisition import DatasetSpec
from lift.pipelines.regression import nodes
from lift.pipelines.tabular.pipeline import BASE_MODEL, bind
from lift.pipelines.tabular.pipeline import create_pipeline as tabular_pipeline

TASK = "regression"


def extrapolation_steps(spec: DatasetSpec) -> list[Node]:
    """The extrapolation nodes of a one-feature synthetic function; none for other datasets."""
    if spec.kind != "synthetic" or int(spec.source.get("p", 1)) != 1:
        return []
    return [
        node(
            bind(nodes.extrapolation_grid, dataset=spec.name),
            ["params:dataset", "params:extrapolation"],
            "extrapolation_grid",
            name="extrapolation_grid",
            tags="data",
        ),
        node(
            bind(nodes.extrapolate, dataset=spec.name),
            [
                "extrapolation_grid",
                "schema",
                "prompts",
                "adapters",
                "baseline_models",
                BASE_MODEL,
                "lift_settings",
                "params:extrapolation",
            ],
            "extrapolation",
            name="extrapolate",
            tags="prediction",
        ),
        node(
            bind(nodes.plot_extrapolation, dataset=spec.name),
            ["extrapolation", "table", "schema", "splits", "params:dataset"],
            "extrapolation_plot",
            name="plot_extrapolation",
            tags="reporting",
        ),
    ]


def create_pipeline(datasets: Mapping[str, Mapping[str, Any]] | None = None, **_: Any) -> Pipeline:
    """The regression pipeline over ``datasets`` (the ``regression.datasets`` parameter:
    dataset name -> its parameters)."""
    return tabular_pipeline(TASK, datasets, extrapolation_steps)
