"""Scores of test-split predictions, per model and repeat."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from lift.parsing import INVALID

CLASSIFICATION_METRICS = ("accuracy", "f1_macro", "balanced_accuracy", "invalid_rate")


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy, macro-F1, balanced accuracy and the share of invalid predictions.

    An invalid prediction (``INVALID``, an unparsable answer) counts as wrong for its row's
    class and is not a class of its own in the macro average.
    """
    classes = np.union1d(y_true, y_pred[y_pred != INVALID])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # INVALID is "a class not in y_true"
        balanced = balanced_accuracy_score(y_true, y_pred)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(
            f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)
        ),
        "balanced_accuracy": float(balanced),
        "invalid_rate": float(np.mean(y_pred == INVALID)),
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
