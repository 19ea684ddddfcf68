"""How the paper's studies vary the data, never the method: fewer training rows (sample
complexity), corrupted labels (label noise), a rarer minority class (class imbalance), labels
made by another learner (inductive bias), noisier numeric targets (uncertainty), and a grid
of points to draw decision boundaries.

Each function takes a cleaned table and its splits (``lift.data.splits``) and returns new ones; the
test rows are never touched, so every variant of a table is scored on the same test rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from lift.config.errors import DatasetInputError

NoiseKind = Literal["random", "systematic"]


def _allocation(counts: np.ndarray, total: int) -> np.ndarray:
    """``total`` rows shared among classes of ``counts`` rows in proportion, at least one each
    (largest remainders), never more than a class has."""
    if total < len(counts):
        raise ValueError(f"{total} rows cannot keep all {len(counts)} classes")
    share = counts / counts.sum() * total
    kept = np.clip(np.floor(share).astype(int), 1, counts)
    while kept.sum() < total:  # hand out the rest by largest remainder, where there is room
        room = np.where(kept < counts, share - kept, -np.inf)
        kept[int(np.argmax(room))] += 1
    while kept.sum() > total:  # the minimum of one pushed past the total: take from the largest
        kept[int(np.argmax(np.where(kept > 1, kept, -1)))] -= 1
    return kept


def training_rows(fraction: float, n_train: int, n_classes: int = 1) -> int:
    """How many of ``n_train`` training rows a ``fraction`` keeps: the nearest whole number,
    at least one per class."""
    return min(n_train, max(n_classes, int(round(fraction * n_train))))


def subsample_training(
    dataset: str,
    splits: pd.DataFrame,
    targets: np.ndarray,
    fraction: float,
    stratify: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    """``splits`` with each repeat's training rows cut to ``fraction`` of them
    (``training_rows``): stratified by ``targets`` (every class kept) when ``stratify``,
    drawn with seed ``seed + repeat``. Validation and test rows stay as they are."""
    if not 0 < fraction <= 1:
        raise DatasetInputError(
            f"Dataset '{dataset}': training fraction {fraction} is not in (0, 1]; use e.g. 0.05."
        )
    parts = []
    for repeat, part in splits.groupby("repeat", sort=True):
        train = part[part["split"] == "train"]
        rng = np.random.default_rng(seed + int(repeat))
        rows = train["row"].to_numpy()
        if stratify:
            labels = targets[rows]
            classes, counts = np.unique(labels, return_counts=True)
            total = training_rows(fraction, len(rows), len(classes))
            kept = np.concatenate(
                [
                    rng.choice(rows[labels == label], size=size, replace=False)
                    for label, size in zip(classes, _allocation(counts, total), strict=True)
                ]
            )
        else:
            kept = rng.choice(rows, size=training_rows(fraction, len(rows)), replace=False)
        parts.append(part[(part["split"] != "train") | part["row"].isin(kept)])
    return pd.concat(parts, ignore_index=True)


def balanced_order(targets: Sequence[Any], seed: int = 0) -> np.ndarray:
    """Positions of ``targets`` in a class-balanced order: each class shuffled (``seed``),
    then taken in turn, so that any first m positions hold every class as evenly as the
    counts allow."""
    targets = np.asarray(targets)
    rng = np.random.default_rng(seed)
    queues = [list(rng.permutation(np.flatnonzero(targets == c))) for c in np.unique(targets)]
    order = []
    while any(queues):
        order += [queue.pop(0) for queue in queues if queue]
    return np.array(order, dtype=int)


def training_subset(
    dataset: str,
    splits: pd.DataFrame,
    targets: np.ndarray,
    count: int,
    balanced: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    """``splits`` with each repeat's training rows cut to ``count`` of them, drawn with seed
    ``seed + repeat``: with ``balanced``, the classes as even as their rows allow
    (``balanced_order``: the rows a prompt can show as demonstrations), else at random (numeric
    targets). A smaller count keeps a subset of a larger one's rows. Validation and test rows
    stay as they are."""
    if count < 1:
        raise DatasetInputError(
            f"Dataset '{dataset}': {count} training rows asked for; keep at least one."
        )
    parts = []
    for repeat, part in splits.groupby("repeat", sort=True):
        rows = part.loc[part["split"] == "train", "row"].to_numpy()
        draw = seed + int(repeat)
        if balanced:
            order = balanced_order(targets[rows], draw)
        else:
            order = np.random.default_rng(draw).permutation(len(rows))
        kept = rows[order[:count]]
        parts.append(part[(part["split"] != "train") | part["row"].isin(kept)])
    return pd.concat(parts, ignore_index=True)


def rebalance_training(
    dataset: str, splits: pd.DataFrame, targets: np.ndarray, ratio: float, seed: int = 0
) -> pd.DataFrame:
    """``splits`` with each repeat's training rows of every class but the largest cut to
    ``ratio`` times the largest class's rows (at least one; a class already rarer keeps what it
    has), drawn with seed ``seed + repeat``. ``ratio`` is minority : majority, e.g. 0.1 for
    1:10. Validation and test rows stay as they are."""
    if not 0 < ratio <= 1:
        raise DatasetInputError(
            f"Dataset '{dataset}': class ratio {ratio} is not in (0, 1]; give minority : "
            "majority, e.g. 0.1 for one minority row per ten majority rows."
        )
    parts = []
    for repeat, part in splits.groupby("repeat", sort=True):
        rows = part.loc[part["split"] == "train", "row"].to_numpy()
        labels = targets[rows]
        classes, counts = np.unique(labels, return_counts=True)
        cap = max(1, int(round(ratio * counts.max())))
        rng = np.random.default_rng(seed + int(repeat))
        largest = int(np.argmax(counts))
        kept_rows = np.concatenate(
            [
                rows[labels == label]
                if k == largest
                else rng.choice(rows[labels == label], size=min(count, cap), replace=False)
                for k, (label, count) in enumerate(zip(classes, counts, strict=True))
            ]
        )
        parts.append(part[(part["split"] != "train") | part["row"].isin(kept_rows)])
    return pd.concat(parts, ignore_index=True)


def held_in_rows(splits: pd.DataFrame) -> np.ndarray:
    """The rows that are training or validation rows in some repeat: every row but the test
    rows (the same in every repeat)."""
    return np.sort(splits.loc[splits["split"] != "test", "row"].unique())


def corrupt_labels(
    dataset: str,
    labels: np.ndarray,
    rows: np.ndarray,
    rate: float,
    kind: NoiseKind,
    n_classes: int,
    seed: int = 0,
) -> np.ndarray:
    """``labels`` with exactly ``round(rate * len(rows))`` of ``rows`` given another class:
    ``random`` draws one of the other classes uniformly, ``systematic`` turns class k into
    k + 1 (mod the number of classes). The other rows keep their labels."""
    if not 0 <= rate <= 1:
        raise DatasetInputError(
            f"Dataset '{dataset}': label noise rate {rate} is not in [0, 1]; use e.g. 0.05."
        )
    if n_classes < 2:
        raise DatasetInputError(
            f"Dataset '{dataset}': labels cannot be corrupted with fewer than two classes."
        )
    if kind not in ("random", "systematic"):
        raise DatasetInputError(
            f"Dataset '{dataset}': label noise kind {kind!r} is unknown; use random or systematic."
        )
    rng = np.random.default_rng(seed)
    chosen = rng.choice(rows, size=int(round(rate * len(rows))), replace=False)
    corrupted = np.asarray(labels).copy()
    step = 1 if kind == "systematic" else rng.integers(1, n_classes, size=len(chosen))
    corrupted[chosen] = (corrupted[chosen] + step) % n_classes
    return corrupted


def noisy_targets(targets: np.ndarray, rows: np.ndarray, sd: float, seed: int = 0) -> np.ndarray:
    """Numeric ``targets`` with Gaussian noise of standard deviation ``sd`` (their units)
    added at ``rows`` (drawn with ``seed``); the other rows keep their values."""
    noisy = np.asarray(targets, dtype=float).copy()
    noisy[rows] += np.random.default_rng(seed).normal(0.0, float(sd), size=len(rows))
    return noisy


def with_target(table: pd.DataFrame, target: str, values: np.ndarray) -> pd.DataFrame:
    """A copy of ``table`` whose ``target`` column holds ``values``."""
    return table.assign(**{target: np.asarray(values).astype(table[target].dtype)})


def feature_grid(
    dataset: str, table: pd.DataFrame, features: Sequence[str], points: int, margin: float = 0.05
) -> pd.DataFrame:
    """A ``points`` x ``points`` grid over the range of the table's two numeric ``features``
    (widened by ``margin`` of the range on each side), one row per grid point: the feature
    columns, for drawing a model's decision boundary."""
    if len(features) != 2:
        raise DatasetInputError(
            f"Dataset '{dataset}': a decision-boundary grid needs exactly two numeric "
            f"features; it has {list(features)}. Choose a 2-D dataset (blobs, moons, ...)."
        )
    axes = []
    for feature in features:
        values = pd.to_numeric(table[feature], errors="coerce")
        if values.isna().any():
            raise DatasetInputError(
                f"Dataset '{dataset}': feature '{feature}' is not numeric; a decision-boundary "
                "grid needs two numeric features."
            )
        low, high = float(values.min()), float(values.max())
        pad = margin * (high - low or 1.0)
        axes.append(np.linspace(low - pad, high + pad, int(points)))
    first, second = np.meshgrid(*axes, indexing="xy")
    return pd.DataFrame({features[0]: first.ravel(), features[1]: second.ravel()})


def teacher_labels(
    teacher: Any,
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    splits: pd.DataFrame,
) -> np.ndarray:
    """The labels a ``teacher`` (an unfitted classifier pipeline: ``fit``/``predict``) gives
    every row of ``table`` after learning the true labels of the held-in rows (training and
    validation: every row but the test rows)."""
    rows = held_in_rows(splits)
    features, labels = table[schema["features"]], table[schema["target"]].to_numpy()
    teacher.fit(features.iloc[rows], labels[rows])
    return np.asarray(teacher.predict(features)).astype(int)
