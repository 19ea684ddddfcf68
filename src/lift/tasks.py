"""What differs between the two LIFT tasks once a model has answered: how the answers are read
back into predictions, and which validation metric chooses the training epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from lift.metrics import regression_scores
from lift.parsing import INVALID, read_labels, read_numbers


@dataclass(frozen=True)
class Classification:
    """Answers are class indices 0..K-1; the epoch is chosen on validation accuracy."""

    n_classes: int
    completion_suffix: str = "@@@"
    select_on: ClassVar[str] = "accuracy"
    maximize: ClassVar[bool] = True
    # generated tokens allowed beyond the longest training completion: its EOS
    answer_margin: ClassVar[int] = 1

    def read(
        self, samples: Sequence[Sequence[str]], train_targets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels (``INVALID`` where no answer parsed) and which prompts had a valid answer."""
        labels = read_labels(samples, self.n_classes, self.completion_suffix)
        return labels, labels != INVALID

    def validation_metrics(
        self, y_true: np.ndarray, y_pred: np.ndarray, valid: np.ndarray
    ) -> dict[str, float]:
        return {
            "accuracy": float(np.mean(y_pred == y_true)),
            "invalid_rate": float(np.mean(~valid)),
        }


@dataclass(frozen=True)
class Regression:
    """Answers are numbers; an invalid one is replaced by the training mean. The epoch is
    chosen on validation RMSE, as in the paper."""

    completion_suffix: str = "@@@"
    select_on: ClassVar[str] = "rmse"
    maximize: ClassVar[bool] = False
    # the EOS and two more digits: a number may be larger than any seen in training
    answer_margin: ClassVar[int] = 3

    def read(
        self, samples: Sequence[Sequence[str]], train_targets: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Numbers (the median of each prompt's valid answers, else the training mean) and
        which prompts had a valid answer."""
        return read_numbers(samples, float(np.mean(train_targets)), self.completion_suffix)

    def validation_metrics(
        self, y_true: np.ndarray, y_pred: np.ndarray, valid: np.ndarray
    ) -> dict[str, float]:
        scores = regression_scores(y_true, y_pred, valid)
        return {key: scores[key] for key in ("rmse", "rae", "invalid_rate")}


Task = Classification | Regression


def task_for(schema: Mapping[str, Any], completion_suffix: str = "@@@") -> Task:
    """The task of a prepared table, from its schema."""
    if schema.get("task", "classification") == "regression":
        return Regression(completion_suffix)
    return Classification(len(schema["classes"]), completion_suffix)
