"""Scores of test-split predictions, per model and repeat.

Regression's primary metric is the RAE of the LIFT paper (arXiv:2206.06565): sum |y_hat - y|
divided by sum |mean(y) - y|, the mean taken over the scored rows; 0 is perfect, 1 is as good
as predicting their mean."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
    r2_score,
)

# the prediction of an answer that could not be read (lift.method.parsing): wrong for every
# metric, counted in invalid_rate
INVALID = -1

CLASSIFICATION_METRICS = (
    "accuracy",
    "f1_macro",
    "balanced_accuracy",
    "log_loss",
    "ece",
    "invalid_rate",
)
REGRESSION_METRICS = ("rae", "rmse", "mae", "r2", "invalid_rate")
# each task's metrics, its primary one first
METRICS = {"classification": CLASSIFICATION_METRICS, "regression": REGRESSION_METRICS}


PROBABILITY = "proba_"  # prefix of the column of each class's predicted probability
CALIBRATION_BINS = 10


def probability_columns(probabilities: np.ndarray | None) -> dict[str, np.ndarray]:
    """``proba_<k>``: the predicted probability of class ``k`` per row (none for regression)."""
    if probabilities is None:
        return {}
    return {f"{PROBABILITY}{k}": probabilities[:, k] for k in range(probabilities.shape[1])}


def probabilities_of(predictions: pd.DataFrame) -> np.ndarray | None:
    """The class probabilities of prediction rows, or None where a model gave none."""
    columns = sorted(
        (c for c in predictions.columns if c.startswith(PROBABILITY)),
        key=lambda c: int(c[len(PROBABILITY) :]),
    )
    if not columns or predictions[columns].isna().any(axis=None):
        return None
    return predictions[columns].to_numpy(dtype=float)


def calibration_bins(
    y_true: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS
) -> pd.DataFrame:
    """The rows binned by confidence (the highest class probability) into ``bins`` equal
    widths: per non-empty bin its ``confidence`` (mean), ``accuracy`` and share of ``rows``."""
    confidence = probabilities.max(axis=1)
    frame = pd.DataFrame(
        {
            "bin": np.minimum((confidence * bins).astype(int), bins - 1),
            "confidence": confidence,
            "accuracy": (probabilities.argmax(axis=1) == np.asarray(y_true)).astype(float),
        }
    )
    grouped = frame.groupby("bin")
    return grouped[["confidence", "accuracy"]].mean().assign(rows=grouped.size() / len(frame))


def reliability(predictions: pd.DataFrame, models: Sequence[str] | None = None) -> pd.DataFrame:
    """The calibration bins (``calibration_bins``) of every one of ``models`` (default: all)
    that gave class probabilities: ``model, confidence, accuracy, rows``. ``predictions`` has
    ``model, y_true, proba_<k>``; several datasets may be stacked (the ``proba_`` columns of
    one with fewer classes are NaN there and count as 0)."""
    parts = []
    for model in models or list(predictions["model"].unique()):
        rows = predictions[predictions["model"] == model]
        columns = [c for c in rows.columns if c.startswith(PROBABILITY)]
        if rows.empty or not columns or not rows[columns].notna().any(axis=1).all():
            continue  # a model that gave no probabilities (answers generated as text)
        probabilities = probabilities_of(rows.fillna({c: 0.0 for c in columns}))
        binned = calibration_bins(rows["y_true"].to_numpy(), probabilities)
        parts.append(binned.reset_index(drop=True).assign(model=model))
    columns = ["model", "confidence", "accuracy", "rows"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def expected_calibration_error(
    y_true: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """ECE: the mean over confidence bins, weighted by their rows, of |accuracy - confidence|."""
    binned = calibration_bins(y_true, probabilities, bins)
    return float(((binned["accuracy"] - binned["confidence"]).abs() * binned["rows"]).sum())


def classification_scores(
    y_true: np.ndarray, y_pred: np.ndarray, probabilities: np.ndarray | None = None
) -> dict[str, float]:
    """Accuracy, macro-F1, balanced accuracy, log-loss and expected calibration error (of
    ``probabilities``, one column per class; NaN without them) and the share of invalid
    predictions.

    An invalid prediction (``INVALID``, an unparsable answer) counts as wrong for its row's
    class and is not a class of its own in the macro average.
    """
    classes = np.union1d(y_true, y_pred[y_pred != INVALID])
    if probabilities is not None:  # float32 probabilities (xgboost's) sum to 1 only roughly
        probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # INVALID is "a class not in y_true"
        balanced = balanced_accuracy_score(y_true, y_pred)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(
            f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)
        ),
        "balanced_accuracy": float(balanced),
        "log_loss": (
            float(log_loss(y_true, probabilities, labels=range(probabilities.shape[1])))
            if probabilities is not None
            else float("nan")
        ),
        "ece": (
            expected_calibration_error(y_true, probabilities)
            if probabilities is not None
            else float("nan")
        ),
        "invalid_rate": float(np.mean(y_pred == INVALID)),
    }


def class_scores(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, float]:
    """Precision, recall and F1 of each of ``n_classes`` classes (``precision_<k>``,
    ``recall_<k>``, ``f1_<k>``; 0 where a class was never predicted or never true) and the
    macro precision and recall. An invalid prediction is wrong for its row's class."""
    labels = list(range(n_classes))
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    scores = {"precision_macro": float(precision.mean()), "recall_macro": float(recall.mean())}
    for k in labels:
        scores |= {
            f"precision_{k}": float(precision[k]),
            f"recall_{k}": float(recall[k]),
            f"f1_{k}": float(f1[k]),
        }
    return scores


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
    dataset: str, predictions: pd.DataFrame, splits: pd.DataFrame, task: str, n_classes: int = 0
) -> pd.DataFrame:
    """One row per (model, repeat): the dataset, split sizes and the scores of ``task``, and
    with ``n_classes`` each class's (``class_scores``).

    ``predictions`` has columns ``model, repeat, y_true, y_pred``, for models whose answers
    can be invalid ``valid`` and ``answers`` (how they were produced: kept in the row, so that
    an ``invalid_rate`` of 0 by construction is not read as "every answer parsed"), for
    classifiers ``proba_<k>`` and for numbers sampled several times per prompt
    ``sample_spread`` (scored as ``spread``, its mean over the rows); ``splits`` gives the
    sizes.
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
                "answers": _first(group, "answers"),
                "lift_status": _first(group, "lift_status"),
                **model_scores(task, group),
                **(
                    class_scores(group["y_true"].to_numpy(), group["y_pred"].to_numpy(), n_classes)
                    if n_classes
                    else {}
                ),
            }
        )
    return pd.DataFrame(rows)


def _first(predictions: pd.DataFrame, column: str) -> str:
    """The first value of a text column of a model's predictions ("" where it has none: a
    baseline has no ``answers``, how LIFT's were produced, nor ``lift_status``)."""
    values = predictions.get(column)
    return "" if values is None or pd.isna(values.iloc[0]) else str(values.iloc[0])


def model_scores(task: str, predictions: pd.DataFrame) -> dict[str, float]:
    """The scores of ``task`` of one model's predictions (columns as ``score_predictions``
    reads them)."""
    y_true, y_pred = predictions["y_true"].to_numpy(), predictions["y_pred"].to_numpy()
    if task == "regression":
        # a baseline's answers are always valid: no `valid` column, or NaN after concatenation
        valid = predictions.get("valid", pd.Series(True, index=predictions.index))
        scores = regression_scores(y_true, y_pred, valid.fillna(True).to_numpy(dtype=bool))
        spread = predictions.get("sample_spread")
        if spread is not None and spread.notna().any():  # several answers sampled per prompt
            scores["spread"] = float(spread.mean())
        return scores
    return classification_scores(y_true, y_pred, probabilities_of(predictions))
