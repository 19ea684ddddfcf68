"""The paper's split protocol (lift-reference.md, "Splits"): a stratified test split with one
seed, shared by every repeat, then a stratified train/validation split of the rest with seeds
0..R-1. Overall 64/16/20 with the default sizes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from lift.errors import DatasetInputError

SPLITS = ("train", "validation", "test")


def _check_fraction(name: str, value: float) -> float:
    if not 0 < float(value) < 1:
        raise DatasetInputError(f"Parameter `split.{name}` is {value}; use a number in (0, 1).")
    return float(value)


def _stratified(
    dataset: str, rows: np.ndarray, labels: np.ndarray, size: float, seed: int, what: str
) -> tuple[np.ndarray, np.ndarray]:
    try:
        return train_test_split(rows, test_size=size, stratify=labels, random_state=seed)
    except ValueError as error:
        counts = pd.Series(labels).value_counts()
        raise DatasetInputError(
            f"Dataset '{dataset}': cannot make the stratified {what} split ({error}). Its "
            f"smallest class has {counts.min()} rows; every class needs at least 5 for the "
            "paper's splits. Add rows or drop the rare classes."
        ) from error


def split_rows(
    dataset: str,
    labels: Sequence[int] | np.ndarray,
    test_size: float = 0.2,
    validation_size: float = 0.2,
    test_seed: int = 0,
    repeats: int = 1,
) -> pd.DataFrame:
    """Assign every row to train, validation or test, once per repeat.

    Returns a table with columns ``row`` (position in the cleaned table), ``repeat`` (0..R-1)
    and ``split``. The test rows are the same in every repeat; repeat ``r`` splits the rest
    with seed ``r``.
    """
    test_size = _check_fraction("test_size", test_size)
    validation_size = _check_fraction("validation_size", validation_size)
    if int(repeats) != repeats or repeats < 1:
        raise DatasetInputError(f"Parameter `split.repeats` is {repeats}; use a whole number >= 1.")
    labels = np.asarray(labels)
    rows = np.arange(len(labels))
    rest, test = _stratified(dataset, rows, labels, test_size, int(test_seed), "test")
    parts = []
    for repeat in range(int(repeats)):
        train, validation = _stratified(
            dataset, rest, labels[rest], validation_size, repeat, "train/validation"
        )
        for split, members in (("train", train), ("validation", validation), ("test", test)):
            parts.append(pd.DataFrame({"row": np.sort(members), "repeat": repeat, "split": split}))
    return pd.concat(parts, ignore_index=True)


def rows_of(splits: pd.DataFrame, repeat: int, split: str) -> np.ndarray:
    """Row positions of one split in one repeat."""
    chosen = splits[(splits["repeat"] == repeat) & (splits["split"] == split)]
    return chosen["row"].to_numpy()
