"""Thin nodes of the classification pipeline beyond the shared ones
(``lift.evaluation.reporting``)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from lift.data.entry import DatasetEntry
from lift.evaluation import reporting

# the models a reliability diagram shows, where they are there and have probabilities: LIFT's
# answers and the paper's two main baselines
CALIBRATED = (
    "lift",
    "lift_scored",
    "lift_corrected",
    "lift_averaged",
    "logistic_regression",
    "xgboost",
)


def calibration(
    lift_predictions: pd.DataFrame, baseline_predictions: pd.DataFrame, settings: DatasetEntry
) -> Figure:
    """The dataset's reliability diagram: LIFT's and two baselines' test predictions of every
    repeat, accuracy against confidence."""
    predictions = pd.concat([lift_predictions, baseline_predictions], ignore_index=True)
    shown = [m for m in CALIBRATED if m in set(predictions["model"])]
    title = f"{settings.name}: calibration of the test predictions (all repeats)"
    return reporting.calibration_plot(predictions, shown, title)
