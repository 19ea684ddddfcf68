"""The paper's split protocol (the LIFT paper, arXiv:2206.06565): a stratified test split with one
seed, shared by every repeat, then a stratified train/validation split of the rest with seeds
0..R-1. Overall 64/16/20 with the default sizes. Regression splits are not stratified.

A table may fix the splits itself (a split column: the synthetic regression functions, whose
test rows are noiseless, or a user's file): its test rows are then every repeat's test rows,
repeat 0 is its train/validation split as given, and repeat r > 0 re-draws the train/validation
split of the same sizes with seed r.

A run may make some of the repeats only (``first_repeat``): repeat r is the same wherever it is
made, so a table's repeats can run in separate sittings and their results be put together."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from lift.config.errors import DatasetInputError, reject_unknown

SPLITS = ("train", "validation", "test")


PARAMETERS = ("test_size", "validation_size", "test_seed", "repeats", "first_repeat")


def check_split(split: Mapping[str, Any], path: str = "split") -> None:
    """The split parameters (``split_rows``' keywords) at ``path`` can be used: known keys,
    fractions in (0, 1), a whole seed, whole repeats >= 1 and a whole first repeat >= 0;
    ``DatasetInputError`` naming the parameter otherwise. The pipelines call it when they are
    built, before any node runs."""
    reject_unknown(split, PARAMETERS, f"Parameter `{path}` has unknown keys")
    for name in ("test_size", "validation_size"):
        if name in split:
            _check_fraction(name, split[name], path)
    for name, least in (("test_seed", 0), ("repeats", 1), ("first_repeat", 0)):
        value = split.get(name, least)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not float(value).is_integer() or value < least:
            raise DatasetInputError(
                f"Parameter `{path}.{name}` is {value!r}; use a whole number >= {least}."
            )


def _check_fraction(name: str, value: Any, path: str) -> None:
    try:
        fraction = float(value)
    except (TypeError, ValueError):
        fraction = float("nan")
    if isinstance(value, bool) or not 0 < fraction < 1:
        raise DatasetInputError(f"Parameter `{path}.{name}` is {value!r}; use a number in (0, 1).")


def _split(
    dataset: str,
    rows: np.ndarray,
    labels: np.ndarray | None,
    size: float | int,
    seed: int,
    what: str,
    class_names: Sequence[Any] | None = None,
    column: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` split in two, the second part of ``size`` (a fraction or a count), stratified
    by ``labels`` (named in messages by ``class_names``, and their ``column``) unless they are
    None."""
    try:
        return train_test_split(rows, test_size=size, stratify=labels, random_state=seed)
    except ValueError as error:
        if labels is None:
            raise DatasetInputError(
                f"Dataset '{dataset}': cannot make the {what} split of {len(rows)} rows "
                f"({error}). Add rows or change the `split` sizes."
            ) from error
        counts = pd.Series(labels).value_counts(ascending=True)
        if class_names is not None:
            counts.index = [class_names[int(label)] for label in counts.index]
        rare = ", ".join(f"{name!r} ({n} rows)" for name, n in counts.head(5).items())
        numbers = all(_is_number(name) for name in counts.index)
        raise DatasetInputError(
            f"Dataset '{dataset}': cannot make the stratified {what} split of {len(rows)} rows "
            f"in {len(counts)} classes"
            + (f" of target column '{column}'" if column else "")
            + f". Its smallest classes: {rare}; every class needs at least 5 rows for the "
            "paper's splits. Add rows, drop the rare classes, or check that the dataset's "
            "`target` is the column meant"
            + (
                " (its classes are numbers: to predict a number, declare the dataset under "
                "`regression.datasets`)."
                if numbers
                else "."
            )
        ) from error


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def split_rows(
    dataset: str,
    targets: Sequence[Any] | np.ndarray,
    test_size: float = 0.2,
    validation_size: float = 0.2,
    test_seed: int = 0,
    repeats: int = 1,
    first_repeat: int = 0,
    stratify: bool = True,
    given: Sequence[str] | np.ndarray | None = None,
    class_names: Sequence[Any] | None = None,
) -> pd.DataFrame:
    """Assign every row to train, validation or test, once per repeat.

    ``targets`` are the rows' labels (used to stratify when ``stratify``; ``class_names`` name
    them in messages) or regression targets. ``given``, a split name per row, fixes the test
    rows and repeat 0's split (see the module's docstring); ``test_size`` is then unused, and
    ``validation_size`` only if no row is given as validation. Returns a table with columns
    ``row`` (position in the cleaned table), ``repeat`` (``first_repeat`` onwards, ``repeats``
    of them: 0..R-1 by default) and ``split``. The test rows are the same in every repeat;
    repeat ``r`` splits the rest with seed ``r``, whichever others the call makes.
    """
    check_split(
        {
            "test_size": test_size,
            "validation_size": validation_size,
            "repeats": repeats,
            "first_repeat": first_repeat,
        }
    )
    test_size, validation_size = float(test_size), float(validation_size)
    column = getattr(targets, "name", None)  # a table's column, named in messages
    targets = np.asarray(targets)
    labels = targets if stratify else None
    rows = np.arange(len(targets))
    if given is None:
        rest, test = _split(
            dataset, rows, labels, test_size, int(test_seed), "test", class_names, column
        )
    else:
        given = np.asarray(given)
        rest, test = rows[given != "test"], rows[given == "test"]
        if np.any(given == "validation"):
            validation_size = int(np.sum(given == "validation"))
    parts = []
    for repeat in range(int(first_repeat), int(first_repeat) + int(repeats)):
        if given is not None and repeat == 0 and np.any(given == "validation"):
            train, validation = rows[given == "train"], rows[given == "validation"]
        else:
            train, validation = _split(
                dataset,
                rest,
                None if labels is None else labels[rest],
                validation_size,
                repeat,
                "train/validation",
                class_names,
                column,
            )
        for split, members in (("train", train), ("validation", validation), ("test", test)):
            parts.append(pd.DataFrame({"row": np.sort(members), "repeat": repeat, "split": split}))
    return pd.concat(parts, ignore_index=True)


def of_split(table: pd.DataFrame, repeat: int, split: str) -> pd.DataFrame:
    """The entries of one split in one repeat of a table with ``repeat`` and ``split`` columns
    (the splits themselves, or the prompts)."""
    return table[(table["repeat"] == repeat) & (table["split"] == split)]


def rows_of(splits: pd.DataFrame, repeat: int, split: str) -> np.ndarray:
    """Row positions of one split in one repeat."""
    return of_split(splits, repeat, split)["row"].to_numpy()
