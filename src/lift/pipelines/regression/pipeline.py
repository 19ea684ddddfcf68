"""The regression pipeline: the shared per-dataset pipeline (``pipelines/tabular``) under
``regression.<dataset>``; for a one-feature synthetic function also

    extrapolation_grid -> extrapolate (LIFT and two baselines) -> plot_extrapolation

and the report over all datasets."""

from __future__ import annotations

from typing import Any

from kedro.pipeline import Node, Pipeline, node

from lift.data.acquisition import SyntheticSource
from lift.data.entry import DatasetEntry
from lift.data.synthetic import FUNCTION_TERMS, ExtrapolationSettings
from lift.pipelines.regression import nodes
from lift.pipelines.tabular.pipeline import BASE_MODEL
from lift.pipelines.tabular.pipeline import KNOWN as TABULAR_KNOWN
from lift.pipelines.tabular.pipeline import create_pipeline as tabular_pipeline

TASK = "regression"
KNOWN = (*TABULAR_KNOWN, "extrapolation")


def extrapolation_steps(entry: DatasetEntry) -> list[Node]:
    """The extrapolation nodes of a one-feature synthetic function; none for other datasets."""
    source = entry.source
    one_feature = isinstance(source, SyntheticSource) and int(source.options.get("p", 1)) == 1
    if not one_feature or source.name not in FUNCTION_TERMS:  # a plane: no such grid
        return []
    return [
        node(
            nodes.extrapolation_grid,
            ["settings", "params:extrapolation"],
            "extrapolation_grid",
            name="extrapolation_grid",
            tags="data",
        ),
        node(
            nodes.extrapolate,
            [
                "extrapolation_grid",
                "schema",
                "prompts",
                "adapters",
                "baseline_models",
                BASE_MODEL,
                "encoding",
                "settings",
                "params:extrapolation",
            ],
            "extrapolation",
            name="extrapolate",
            tags="prediction",
        ),
        node(
            nodes.plot_extrapolation,
            ["extrapolation", "table", "schema", "splits", "settings"],
            "extrapolation_plot",
            name="plot_extrapolation",
            tags="reporting",
        ),
    ]


def create_pipeline(**parameters: Any) -> Pipeline:
    """The regression pipeline over the datasets of ``parameters`` (the ``regression``
    section; ``datasets`` maps a dataset name to its parameters). The extrapolation settings
    are checked here too."""
    ExtrapolationSettings.from_params(parameters.get("extrapolation"))
    return tabular_pipeline(TASK, parameters, extrapolation_steps, KNOWN)
