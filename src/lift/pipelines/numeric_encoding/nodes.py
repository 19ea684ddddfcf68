"""Thin nodes of the ``numeric_encoding`` study (``lift.studies.numeric_encoding``)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from lift.method.fine_tuning import TrainedAdapter
from lift.pipelines.tabular.nodes import evaluate
from lift.studies import numeric_encoding


def score_encoding(
    row_splits: pd.DataFrame,
    lift_predictions: pd.DataFrame,
    adapters: dict[int, TrainedAdapter],
    *,
    dataset: str,
    task: str,
    encoding: str,
) -> pd.DataFrame:
    """One encoding's LIFT test scores per repeat, with its validation score."""
    scores = evaluate(row_splits, lift_predictions, dataset=dataset, task=task)
    return numeric_encoding.encoding_scores(scores, adapters, task, encoding)


def report(*scores: pd.DataFrame, tasks: list[str]) -> tuple[pd.DataFrame, Figure]:
    """The study's results table and figure over every table and encoding (``tasks``: the
    task of each scores table, in order)."""
    results = numeric_encoding.compare_encodings(scores, tasks)
    return results, numeric_encoding.encoding_plot(results)
