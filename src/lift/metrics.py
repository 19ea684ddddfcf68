"""Scores of test-split predictions, per model and repeat.

Regression's primary metric is the paper's RAE (lift-reference.md): sum |y_hat - y| divided by
sum |mean(y) - y|, the mean taken over the scored rows; 0 is perfect, 1 is as good as
predicting their mean."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, r2_score

from lift.parsing import INVALID

CLASSIFICATION_METRICS = ("accuracy", "f1_macro", "balanced_accuracy", "invalid_rate")
REGRESSION_METRICS = ("rae", "rmse", "mae", "r2", "invalid_rate")
# each task's metrics, its primary one first
METRICS = {"classification": CLASSIFICATION_METRICS, "regression": REGRESSION_METRICS}


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


def regression_scores(
    y_true: np.ndarray, y_pred: np.ndarray, valid: np.ndarray | None = None
) -> dict[str, float]:
    """RAE, RMSE, MAE, R^2 and the share of invalid predictions (``valid`` False: the model's
    answer did not parse and ``y_pred`` holds the fallback, which is scored like any answer)."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    errors = np.abs(y_pred - y_true)
    spread = np.abs(y_true - y_true.mean()).sum()
    return {
        "rae": float(errors.sum() / spread) if spread > 0 else float("nan"),
        "rmse": float(np.sqrt(np.mean(errors**2))),
        "mae": float(errors.mean()),
        "r2": float(r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan"),
        "invalid_rate": 0.0 if valid is None else float(np.mean(~np.asarray(valid, dtype=bool))),
    }


def score_predictions(
    dataset: str, predictions: pd.DataFrame, splits: pd.DataFrame, task: str = "classification"
) -> pd.DataFrame:
    """One row per (model, repeat): the dataset, split sizes and the scores of ``task``.

    ``predictions`` has columns ``model, repeat, y_true, y_pred`` and, for models whose answers
    can be invalid, ``valid``; ``splits`` gives the sizes.
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
                **_scores(task, group),
            }
        )
    return pd.DataFrame(rows)


def _scores(task: str, predictions: pd.DataFrame) -> dict[str, float]:
    y_true, y_pred = predictions["y_true"].to_numpy(), predictions["y_pred"].to_numpy()
    if task == "regression":
        # a baseline's answers are always valid: no `valid` column, or NaN after concatenation
        valid = predictions.get("valid", pd.Series(True, index=predictions.index))
        return regression_scores(y_true, y_pred, valid.fillna(True).to_numpy(dtype=bool))
    return classification_scores(y_true, y_pred)
