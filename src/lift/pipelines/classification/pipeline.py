"""The classification pipeline: the shared per-dataset pipeline (``pipelines/tabular``) under
``classification.<dataset>``, with each dataset's reliability diagram

    lift_predictions, baseline_predictions -> calibration -> calibration_plot

and the report over all datasets."""

from __future__ import annotations

from typing import Any

from kedro.pipeline import Node, Pipeline, node

from lift.data.entry import DatasetEntry
from lift.pipelines.classification import nodes
from lift.pipelines.tabular.pipeline import create_pipeline as tabular_pipeline

TASK = "classification"


def calibration_steps(entry: DatasetEntry) -> list[Node]:
    """The dataset's reliability diagram."""
    return [
        node(
            nodes.calibration,
            ["lift_predictions", "baseline_predictions", "settings"],
            "calibration_plot",
            name="calibration",
            tags="reporting",
        )
    ]


def create_pipeline(**parameters: Any) -> Pipeline:
    """The classification pipeline over the datasets of ``parameters`` (the
    ``classification`` section; ``datasets`` maps a dataset name to its parameters)."""
    return tabular_pipeline(TASK, parameters, calibration_steps)
