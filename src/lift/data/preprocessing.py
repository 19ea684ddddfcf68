"""From a raw table to the cleaned table both LIFT and the baselines read, following the paper:
rows without a target are dropped, feature columns with missing values are dropped (an infinite
number counts as missing; columns sharing a name are refused), raw feature
values are kept (prompts show them as they are); for classification labels are encoded 0..K-1
with the class names kept in the schema, for regression the target must be numeric.
Standardizing and one-hot encoding for the baselines is ``feature_encoder``, fitted on the
training split only."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from lift.config.errors import DatasetInputError
from lift.data.splits import SPLITS

logger = logging.getLogger(__name__)


def _native(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (JSON needs those)."""
    return value.item() if hasattr(value, "item") else value


def is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


TaskName = Literal["classification", "regression"]
TASKS: tuple[TaskName, ...] = ("classification", "regression")


def task_of(schema: Mapping[str, Any]) -> TaskName:
    """The task a table was prepared for (its schema's ``task``, which is required)."""
    task = schema.get("task")
    if task not in TASKS:
        raise DatasetInputError(
            f"Dataset '{schema.get('dataset')}': its schema's task is {task!r}, not one of "
            f"{list(TASKS)}; prepare the table again (preprocessing.prepare_table)."
        )
    return task


def prepare_table(
    dataset: str,
    raw_table: pd.DataFrame,
    target: str,
    task: str,
    drop_columns: Sequence[str] = (),
    max_categories: int = 50,
    split_column: str | None = None,
    sample: int | None = None,
    sample_seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Clean ``raw_table`` of ``dataset`` for ``task`` on column ``target``, cut to ``sample``
    rows if it has more (``sampled_rows``, drawn with ``sample_seed``).

    Returns the cleaned table (raw feature values, the target in its own column: encoded
    0..K-1 for classification, a float for regression; ``split_column`` kept as it is if
    given) and its schema: task, target, feature lists by kind, class names in label order
    (classification), the split column, and what was dropped and why. Raises
    ``DatasetInputError`` for a missing target or split column, an empty table, a single class,
    a non-numeric regression target, no usable feature, split names other than train,
    validation and test, or a text column with more than ``max_categories`` distinct values
    (drop it with ``drop_columns``).
    """
    raw_table = raw_table.rename(columns=str)
    _refuse_duplicate_columns(dataset, list(raw_table.columns))
    for parameter, what, column in (
        ("target", "target column", target),
        ("split_column", "split column", split_column),
    ):
        if column is not None and column not in raw_table.columns:
            raise DatasetInputError(
                f"Dataset '{dataset}' has no {what} '{column}'. Its "
                f"columns are {list(raw_table.columns)}; set the dataset's `{parameter}` "
                "parameter to one of them."
            )
    if raw_table.empty:
        raise DatasetInputError(
            f"Dataset '{dataset}' is empty: its raw table has no rows. Check the file or source "
            f"it reads (its catalog entry or `source`), or switch it off with `{dataset}: null`."
        )
    unknown = [c for c in drop_columns if c not in raw_table.columns]
    if unknown:
        raise DatasetInputError(
            f"Dataset '{dataset}': `drop_columns` names {unknown}, which the table does not "
            f"have. Its columns are {list(raw_table.columns)}."
        )

    missing_target = missing_values(raw_table[target])
    table = raw_table.loc[~missing_target].drop(columns=list(drop_columns)).reset_index(drop=True)
    if missing_target.any():
        logger.warning(
            "Dataset '%s': dropped %d of %d rows without a value in target column '%s' (they "
            "can be neither trained on nor scored)",
            dataset,
            missing_target.sum(),
            len(raw_table),
            target,
        )
    if table.empty:
        raise DatasetInputError(
            f"Dataset '{dataset}': every row lacks a value in target column '{target}'."
        )
    n_available = len(table)
    if sample is not None and sample < n_available:
        kept = sampled_rows(table[target], sample, task == "classification", sample_seed)
        table = table.iloc[kept].reset_index(drop=True)
        logger.info("Dataset '%s': kept %d of its %d rows", dataset, sample, n_available)

    dropped = {c: "user: drop_columns" for c in drop_columns}
    features = []
    for column in table.columns.drop([target, *([split_column] if split_column else [])]):
        n_missing = int(missing_values(table[column]).sum())
        if n_missing:
            n_absent = int(table[column].isna().sum())
            counts = ((n_absent, "missing"), (n_missing - n_absent, "infinite"))
            why = " and ".join(f"{n} {kind} values" for n, kind in counts if n)
            dropped[column] = why
            logger.warning(
                "Dataset '%s': dropped feature column '%s' (%s in %d rows)",
                dataset,
                column,
                why,
                len(table),
            )
        else:
            features.append(column)
    if not features:
        raise DatasetInputError(
            f"Dataset '{dataset}' has no feature column left without missing values "
            f"(dropped: {dropped}). Fill in the missing values or choose another dataset."
        )

    numeric = [c for c in features if is_numeric(table[c])]
    categorical = [c for c in features if c not in numeric]
    for column in categorical:
        table[column] = table[column].astype(str)
        n_distinct = table[column].nunique()
        if n_distinct > max_categories:
            raise DatasetInputError(
                f"Dataset '{dataset}': column '{column}' holds text with {n_distinct} distinct "
                f"values (more than max_categories={max_categories}), which the baselines "
                "cannot one-hot encode. Drop it with the dataset's `drop_columns` parameter or "
                "raise its `max_categories`."
            )

    schema: dict[str, Any] = {"dataset": dataset, "task": task, "target": target}
    if task == "classification":
        table[target], schema["classes"] = _encode_labels(dataset, table[target])
    elif task == "regression":
        table[target] = _numeric_target(dataset, table[target])
    else:
        raise DatasetInputError(f"Dataset '{dataset}': unknown task {task!r}; use one of {TASKS}.")
    if split_column:
        table[split_column] = _split_names(dataset, table[split_column])
    table = table[[*features, target, *([split_column] if split_column else [])]]

    schema.update(
        {
            "features": features,
            "numeric_features": numeric,
            "categorical_features": categorical,
            # the values each categorical feature has: new rows are checked against them
            "categories": {c: sorted(table[c].unique()) for c in categorical},
            "split_column": split_column,
            "dropped_columns": dropped,
            "n_rows": len(table),
            "n_dropped_rows": int(missing_target.sum()),
            "n_sampled_from": n_available,
        }
    )
    return table, schema


def sampled_rows(labels: pd.Series, count: int, balanced: bool, seed: int) -> np.ndarray:
    """The positions of ``count`` rows drawn with ``seed``, in table order: as many of each
    class as it has up to an equal share where ``balanced`` (the classes of ``labels``), else
    at random."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    if balanced:  # each class's rows in random order, taken in turn
        shuffled = labels.iloc[order].astype(str).reset_index(drop=True)
        turn = shuffled.groupby(shuffled).cumcount().to_numpy()
        order = order[np.lexsort((rng.random(len(order)), turn))]
    return np.sort(order[:count])


def missing_values(values: pd.Series) -> pd.Series:
    """Which values are missing; an infinite number counts as missing (no prompt, scaler or
    baseline can use it)."""
    missing = values.isna()
    if is_numeric(values):
        missing |= values.abs() == float("inf")
    return missing


def _refuse_duplicate_columns(dataset: str, columns: list[str]) -> None:
    """Raise ``DatasetInputError`` if two columns share a name: as they are, or as pandas
    renames the copies when it reads a CSV (``a``, ``a.1``)."""
    names = set(columns)
    original = {c: c.rsplit(".", 1)[0] if c.rsplit(".", 1)[-1].isdigit() else c for c in columns}
    copies = {o for c, o in original.items() if o != c and o in names}
    copies |= {c for c in names if columns.count(c) > 1}
    if copies:
        read_as = [c for c in columns if original[c] in copies]
        raise DatasetInputError(
            f"Dataset '{dataset}' has several columns named {sorted(copies)} (read as "
            f"{read_as}): which one is meant cannot be told. Give each column its own name "
            "in the file."
        )


def _encode_labels(dataset: str, values: pd.Series) -> tuple[pd.Series, list[Any]]:
    """Labels 0..K-1 in the sorted order of the class values, and the class values."""
    classes = sorted(values.unique(), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise DatasetInputError(
            f"Dataset '{dataset}' has a single class ({_native(classes[0])!r}) in target column "
            f"'{values.name}'; classification needs at least two. Check the `target` parameter."
        )
    label_of = {value: label for label, value in enumerate(classes)}
    return values.map(label_of).astype(int), [_native(c) for c in classes]


def _numeric_target(dataset: str, values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    if not is_numeric(values) and numbers.isna().any():
        examples = values[numbers.isna()].astype(str).unique()[:3].tolist()
        raise DatasetInputError(
            f"Dataset '{dataset}': regression needs a numeric target, but column "
            f"'{values.name}' holds {examples}. Choose a numeric `target` column, or use the "
            "classification pipeline for categories."
        )
    if numbers.nunique() < 2:
        raise DatasetInputError(
            f"Dataset '{dataset}': target column '{values.name}' has a single value; there is "
            "nothing to regress. Check the `target` parameter."
        )
    return numbers.astype(float)


def _split_names(dataset: str, values: pd.Series) -> pd.Series:
    names = values.astype(str).str.strip().str.lower()
    unknown = sorted(set(names) - set(SPLITS))
    missing = [s for s in ("train", "test") if s not in set(names)]
    if unknown or missing:
        raise DatasetInputError(
            f"Dataset '{dataset}': split column '{values.name}' must hold {list(SPLITS)} "
            f"(train and test at least); it has unknown values {unknown} and lacks {missing}."
        )
    return names


def feature_encoder(schema: Mapping[str, Any]) -> ColumnTransformer:
    """Standardize numeric and one-hot encode categorical features (the baselines' view).

    Unfitted: it is fitted on the training split only, inside each baseline's pipeline.
    """
    return ColumnTransformer(
        [
            ("numeric", StandardScaler(), list(schema["numeric_features"])),
            (
                "categorical",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                list(schema["categorical_features"]),
            ),
        ]
    )
