"""What differs between the two LIFT tasks once a model has answered: how the answers are read
back into predictions (and, for classes, probabilities), and which validation metric chooses
the training epoch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from lift.config.errors import DatasetInputError
from lift.config.lift import COMPLETION_SUFFIX, SerializationSettings
from lift.data.preprocessing import TaskName, task_of
from lift.evaluation.metrics import regression_scores
from lift.method.encoding import FittedEncoding
from lift.method.parsing import INVALID, parse_label, parse_name, parse_number, sampled_numbers
from lift.method.prior_correction import PriorCorrection, softmax
from lift.method.serialization import answer_text, class_names, completion_for


@dataclass(frozen=True)
class Answers:
    """A model's answers to some prompts: the text of each (samples joined by `` | ``), the
    prediction read from it, whether it was valid and, for classes, the probability of each
    class (rows sum to 1) and, for scored classes, their log-probabilities; for several
    sampled numbers, their mean and spread (sample standard deviation) per prompt."""

    texts: list[str]
    predictions: np.ndarray
    valid: np.ndarray
    probabilities: np.ndarray | None = None
    scores: np.ndarray | None = None
    sample_mean: np.ndarray | None = None
    sample_spread: np.ndarray | None = None


def averaged_answers(answers: Sequence[Answers]) -> Answers:
    """The answers of an ensemble (``training.ensemble``) from its adapters' ``answers`` to the
    same prompts: for classes their probabilities (and scores) averaged and the likeliest
    class; for numbers the mean of the valid ones (where none is, of their stand-ins, the
    training mean); valid where one adapter's answer was; the texts joined by `` || ``."""
    if len(answers) == 1:
        return answers[0]
    valid = np.stack([a.valid for a in answers]).astype(bool)
    any_valid = valid.any(axis=0)

    def mean(field: str) -> np.ndarray | None:
        values = [getattr(a, field) for a in answers]
        return None if values[0] is None else np.mean(values, axis=0)

    probabilities = mean("probabilities")
    if probabilities is not None:  # classes
        predictions = np.where(any_valid, probabilities.argmax(axis=1), INVALID)
    else:
        numbers = np.stack([np.asarray(a.predictions, dtype=float) for a in answers])
        of_valid = np.where(valid, numbers, 0.0).sum(axis=0) / np.maximum(valid.sum(axis=0), 1)
        predictions = np.where(any_valid, of_valid, numbers.mean(axis=0))
    texts = [" || ".join(each) for each in zip(*(a.texts for a in answers), strict=True)]
    return Answers(
        texts,
        predictions,
        any_valid,
        probabilities,
        mean("scores"),
        mean("sample_mean"),
        mean("sample_spread"),
    )


@dataclass(frozen=True)
class Classification:
    """Answers are class indices 0..K-1, or the classes' ``names`` where they are written so;
    the epoch is chosen on validation accuracy."""

    n_classes: int
    completion_suffix: str = COMPLETION_SUFFIX
    names: tuple[str, ...] = ()
    name: ClassVar[TaskName] = "classification"
    select_on: ClassVar[str] = "accuracy"
    maximize: ClassVar[bool] = True
    # generated tokens allowed beyond the longest training completion: its EOS
    answer_margin: ClassVar[int] = 1

    @property
    def completions(self) -> list[str]:
        """The completion of each class, as in training."""
        return [
            completion_for(label, "classification", completion_suffix=self.completion_suffix)
            for label in self.names or range(self.n_classes)
        ]

    def written_names(self) -> list[str]:
        """Each class's name as its completion writes it (none where classes are codes)."""
        suffix = self.completion_suffix
        return [answer_text(c, suffix) for c in self.completions] if self.names else []

    def read(self, samples: Sequence[Sequence[str]], train_targets: np.ndarray) -> Answers:
        """Generated answers: each prompt's label is its most frequent valid answer (ties: the
        smallest; ``INVALID`` if none is valid) and its class probabilities the shares of its
        valid answers (uniform if none is valid: the answers said nothing)."""
        votes = np.zeros((len(samples), self.n_classes))
        names = self.written_names()
        for row, answers in enumerate(samples):
            for answer in answers:
                label = (
                    parse_name(answer, names, self.completion_suffix)
                    if names
                    else parse_label(answer, self.n_classes, self.completion_suffix)
                )
                if label != INVALID:
                    votes[row, label] += 1
        valid = votes.sum(axis=1) > 0
        labels = np.where(valid, votes.argmax(axis=1), INVALID)
        probabilities = np.where(valid[:, None], votes, 1.0)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        texts = [" | ".join(answers) for answers in samples]
        return Answers(texts, labels, valid, probabilities)

    def read_scores(
        self, log_probabilities: np.ndarray, correction: PriorCorrection | None = None
    ) -> Answers:
        """Scored completions (``log P(class completion | prompt)``, one column per class):
        the probabilities are their softmax over the classes, the label the likeliest class,
        every answer valid. ``correction`` (fitted on the validation rows) is applied to the
        scores first."""
        if correction is not None:
            log_probabilities = correction.apply(log_probabilities)
        probabilities = softmax(log_probabilities)
        labels = probabilities.argmax(axis=1)
        texts = [self.completions[label] for label in labels]
        return Answers(
            texts, labels, np.ones(len(labels), dtype=bool), probabilities, log_probabilities
        )

    def written_with(self, encoding: FittedEncoding) -> Classification:
        """This task (class indices are written the same whatever the encoding)."""
        return self

    def validation_metrics(
        self, y_true: np.ndarray, y_pred: np.ndarray, valid: np.ndarray
    ) -> dict[str, float]:
        return {
            "accuracy": float(np.mean(y_pred == y_true)),
            "invalid_rate": float(np.mean(~valid)),
        }

    def prior_score(self, y_true: np.ndarray) -> float:
        """The best accuracy one class for every row scores on these rows (the majority
        share): a model no better than it learnt the class prior at most."""
        _, counts = np.unique(np.asarray(y_true), return_counts=True)
        return float(counts.max() / counts.sum())


def robust_spread(values: np.ndarray) -> float:
    """The spread of sampled numbers as a robust standard deviation: 1.4826 times their median
    absolute deviation from the median, which is the standard deviation of Gaussian samples
    and is not thrown by the odd wild sample (a sign or a leading digit drawn at temperature
    1: -36.79 among answers near -8)."""
    values = np.asarray(values, dtype=float)
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


# `generation.mode: score` for numbers: the most numbers scored per prompt, and how far past
# the training targets' least and greatest the numbers scored reach (a share of their range)
MAX_SCORED_NUMBERS = 1000
SCORED_MARGIN = 0.1


def weighted_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row of ``weights`` (non-negative, one column per value), the least of ``values``
    at which the weights summed from the lowest value reach half of the row's: the median
    of the distribution, the answer of least expected absolute error."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[:, order], axis=1)
    reached = cumulative >= cumulative[:, -1:] / 2
    return np.asarray(values, dtype=float)[order][reached.argmax(axis=1)]


def interpolated_median(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per row of ``weights`` (non-negative, one column per value of an evenly spaced grid),
    the median of the distribution that spreads each value's weight evenly over the numbers
    that round to it (half a step either side): where the weights reach half of the row's,
    between the grid's values, not only on them. A number written to the grid's decimals
    stands for all of these, and the median of grid values alone is up to half a step from
    the continuous one."""
    grid, column = np.unique(np.asarray(values, dtype=float), return_inverse=True)
    merged = np.zeros((len(weights), len(grid)))
    np.add.at(merged.T, column, np.asarray(weights, dtype=float).T)  # "-0.0" and "0.0"
    share = merged / merged.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(share, axis=1)
    at = (cumulative >= 0.5).argmax(axis=1)
    rows = np.arange(len(share))
    step = float(np.diff(grid).min()) if len(grid) > 1 else 0.0
    below = cumulative[rows, at] - share[rows, at]  # the weight below the median's value
    return grid[at] + step * ((0.5 - below) / share[rows, at] - 0.5)


@dataclass(frozen=True)
class Regression:
    """Answers are numbers (read back into the target's units by ``encoding``, the one the
    completions were written with); an invalid one is replaced by the training mean. The epoch
    is chosen on validation RMSE, as in the paper."""

    completion_suffix: str = COMPLETION_SUFFIX
    encoding: FittedEncoding | None = None
    name: ClassVar[TaskName] = "regression"
    select_on: ClassVar[str] = "rmse"
    maximize: ClassVar[bool] = False
    # the EOS and two more digits: a number may be larger than any seen in training
    answer_margin: ClassVar[int] = 3

    def read(self, samples: Sequence[Sequence[str]], train_targets: np.ndarray) -> Answers:
        """Numbers in the target's units: the median of each prompt's valid answers, else the
        training mean, and which prompts had a valid answer; with several samples per prompt
        also their mean (else the training mean) and spread (``robust_spread``; NaN where
        fewer than two parsed)."""
        fallback = float(np.mean(train_targets))
        numbers = sampled_numbers(samples, self.completion_suffix)
        if self.encoding is not None:
            numbers = [self.encoding.read_targets(n) for n in numbers]
        valid = np.array([len(n) > 0 for n in numbers], dtype=bool)
        median = np.array([np.median(n) if len(n) else fallback for n in numbers], dtype=float)
        texts = [" | ".join(answers) for answers in samples]
        if max(map(len, samples), default=1) <= 1:  # greedy: one answer each
            return Answers(texts, median, valid)
        mean = np.array([n.mean() if len(n) else fallback for n in numbers], dtype=float)
        spread = np.array([robust_spread(n) if len(n) > 1 else np.nan for n in numbers])
        return Answers(texts, median, valid, sample_mean=mean, sample_spread=spread)

    def scored_numbers(self, completions: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """What ``generation.mode: score`` scores after each prompt: every number written as
        the training ``completions`` write theirs (their decimals) from a tenth of their range
        below the least to as far above the greatest, and each as a completion (numbers in
        written units: z-scores for a standardized target)."""
        suffix = self.completion_suffix
        written = sorted({answer_text(c, suffix) for c in completions})
        numbers = np.array([parse_number(text, suffix) for text in written], dtype=float)
        unread = [text for text, number in zip(written, numbers, strict=True) if np.isnan(number)]
        if unread:
            raise DatasetInputError(
                "`generation.mode: score` scores numbers, and the training completions are not "
                f"all numbers (e.g. {unread[0]!r}): check the dataset's target column, or use "
                "`mode: generate`."
            )
        decimals = max(len(t.partition(".")[2]) for t in written)
        step = 10.0**-decimals
        margin = SCORED_MARGIN * (numbers.max() - numbers.min())
        low, high = numbers.min() - margin, numbers.max() + margin
        first, last = np.ceil(low / step - 1e-9), np.floor(high / step + 1e-9)  # on the grid
        count = int(last - first) + 1
        if count > MAX_SCORED_NUMBERS:
            raise DatasetInputError(
                f"`generation.mode: score` would score {count:,} numbers per prompt (the "
                f"training targets written with {decimals} decimals, from {numbers.min():g} to "
                f"{numbers.max():g} and a tenth of that range past each end), more than "
                f"{MAX_SCORED_NUMBERS:,}: write the target standardized "
                "(`serialization.target_encoding: standardized`) or with fewer "
                "`serialization.target_decimals`, or use `mode: generate`."
            )
        texts = {f"{v:.{decimals}f}": float(v) for v in (first + np.arange(count)) * step}
        texts.update(zip(written, numbers, strict=True))  # as written in training ("-0.0")
        values = np.array(list(texts.values()))
        return values, [f" {text}{suffix}" for text in texts]

    def read_scores(
        self, log_probabilities: np.ndarray, numbers: np.ndarray, median: str
    ) -> Answers:
        """Scored numbers (``log P(number's completion | prompt)``, one column per one of
        ``numbers``, in written units): each prompt's answer is the median of their softmax
        over the numbers scored (RAE's, the absolute error's, best answer), read back into the
        target's units; every answer valid. ``median``: interpolated between the grid's values
        (``interpolated_median``) or the grid's value where half the weight is reached
        (``grid``)."""
        weights = softmax(log_probabilities)
        read = interpolated_median if median == "interpolated" else weighted_median
        middle = read(numbers, weights)
        texts = [f"{number:g}" for number in middle]
        predictions = middle if self.encoding is None else self.encoding.read_targets(middle)
        return Answers(texts, np.asarray(predictions, dtype=float), np.ones(len(middle), bool))

    def written_with(self, encoding: FittedEncoding) -> Regression:
        """This task reading answers written with ``encoding``."""
        return replace(self, encoding=encoding)

    def validation_metrics(
        self, y_true: np.ndarray, y_pred: np.ndarray, valid: np.ndarray
    ) -> dict[str, float]:
        scores = regression_scores(y_true, y_pred, valid)
        return {key: scores[key] for key in ("rmse", "rae", "invalid_rate")}

    def prior_score(self, y_true: np.ndarray) -> float:
        """The RMSE of answering these rows' mean (their RAE is then 1): a model no better
        than it learnt the target's typical value at most."""
        return float(np.std(np.asarray(y_true, dtype=float)))


Task = Classification | Regression


def task_for(schema: Mapping[str, Any], serialization: SerializationSettings | None = None) -> Task:
    """How the answers of a prepared table's task are read (its schema says which task),
    written as ``serialization`` writes them."""
    settings = serialization or SerializationSettings()
    suffix = settings.completion_suffix
    if task_of(schema) == "regression":
        return Regression(suffix)
    names = class_names(schema, settings)
    return Classification(len(schema["classes"]), suffix, tuple(names or ()))
