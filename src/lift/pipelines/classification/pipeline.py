"""The classification pipeline: the shared per-dataset pipeline (``pipelines/tabular``) under
``classification.<dataset>``, and the report over all datasets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Pipeline

from lift.pipelines.tabular.pipeline import create_pipeline as tabular_pipeline

TASK = "classification"


def create_pipeline(datasets: Mapping[str, Mapping[str, Any]] | None = None, **_: Any) -> Pipeline:
    """The classification pipeline over ``datasets`` (the ``classification.datasets``
    parameter: dataset name -> its parameters)."""
    return tabular_pipeline(TASK, datasets)
