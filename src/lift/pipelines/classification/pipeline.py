"""The classification pipeline: the shared per-dataset pipeline (``pipelines/tabular``) under
``classification.<dataset>``, and the report over all datasets."""

from __future__ import annotations

from typing import Any

from kedro.pipeline import Pipeline

from lift.pipelines.tabular.pipeline import create_pipeline as tabular_pipeline

TASK = "classification"


def create_pipeline(**parameters: Any) -> Pipeline:
    """The classification pipeline over the datasets of ``parameters`` (the
    ``classification`` section; ``datasets`` maps a dataset name to its parameters)."""
    return tabular_pipeline(TASK, parameters)
