"""Scores of test-split predictions, per model and repeat."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

CLASSIFICATION_METRICS = ("accuracy", "f1_macro", "balanced_accuracy")


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1 and balanced accuracy of one set of predictions."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
    }


def score_predictions(
    dataset: str, predictions: pd.DataFrame, splits: pd.DataFrame
) -> pd.DataFrame:
    """One row per (model, repeat): the dataset, split sizes and the classification scores.

    ``predictions`` has columns ``model, repeat, y_true, y_pred``; ``splits`` gives the sizes.
    """
    sizes = splits.groupby(["repeat", "split"]).size().unstack(fill_value=0)
    rows = []
    for (model, repeat), group in predictions.groupby(["model", "repeat"], sort=False):
        rows.append(
            {
                "dataset": dataset,
                "model": model,
                "repeat": int(repeat),
                "n_train": int(sizes.loc[repeat, "train"]),
                "n_validation": int(sizes.loc[repeat, "validation"]),
                "n_test": int(sizes.loc[repeat, "test"]),
                **classification_scores(group["y_true"].to_numpy(), group["y_pred"].to_numpy()),
            }
        )
    return pd.DataFrame(rows)
