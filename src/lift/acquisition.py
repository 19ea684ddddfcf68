"""Raw tables from the places a dataset can come from: the paper's synthetic generators,
scikit-learn's bundled datasets, OpenML (through its cache when offline) and a user's file.

A dataset is described by a ``source`` mapping, e.g. ``{kind: sklearn, name: iris}``,
``{kind: synthetic, name: moons, n_samples: 2000, seed: 123}``, ``{kind: openml, id: 61}`` or
``{kind: file}`` (the raw table is then a catalog entry the user declares). Synthetic
regression sources are the paper's functions: ``{kind: synthetic, name: cosine, p: 1}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets as sklearn_datasets

from lift import synthetic
from lift.errors import DatasetInputError, reject_unknown

logger = logging.getLogger(__name__)

SOURCE_KINDS = ("synthetic", "sklearn", "openml", "file")
SKLEARN_TARGET = "target"

SKLEARN_LOADERS: dict[str, Callable[..., Any]] = {
    "iris": sklearn_datasets.load_iris,
    "wine": sklearn_datasets.load_wine,
    "breast_cancer": sklearn_datasets.load_breast_cancer,
    "digits": sklearn_datasets.load_digits,
    "diabetes": sklearn_datasets.load_diabetes,  # regression: disease progression after a year
}


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset's parameters (``<task>.datasets.<name>`` in the parameters files).

    ``source`` says where the raw table comes from; ``target`` names the target column (needed
    for files, optional otherwise); ``split_column`` names a column that fixes each row's split
    (``train``, ``validation``, ``test``) instead of the random protocol; ``drop_columns`` are
    left out of the features; ``max_categories`` bounds a text column's distinct values;
    ``paper`` holds what the LIFT paper published for this dataset by model name (accuracy as a
    fraction for classification, RAE for regression); ``lift`` overrides keys of the task's
    ``lift`` parameters for this dataset only (e.g. ``{training: {epochs: 2}}``).
    """

    name: str
    source: Mapping[str, Any]
    target: str | None = None
    split_column: str | None = None
    drop_columns: tuple[str, ...] = ()
    max_categories: int = 50
    paper: Mapping[str, float] = field(default_factory=dict)
    lift: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_params(cls, name: str, params: Mapping[str, Any] | None) -> DatasetSpec:
        """Validate the parameters of dataset ``name`` and return them as a spec."""
        params = dict(params or {})
        allowed = [f.name for f in fields(cls) if f.name != "name"]
        reject_unknown(params, allowed, f"Dataset '{name}': unknown parameters")
        if "source" not in params:
            raise DatasetInputError(
                f"Dataset '{name}' has no `source` parameter; add one such as "
                "`source: {kind: sklearn, name: iris}`."
            )
        source_kind(name, params["source"])
        params["drop_columns"] = tuple(params.get("drop_columns") or ())
        params["paper"] = dict(params.get("paper") or {})
        params["lift"] = dict(params.get("lift") or {})
        return cls(name=name, **params)

    @property
    def kind(self) -> str:
        return self.source["kind"]


def source_kind(dataset: str, source: Mapping[str, Any]) -> str:
    """The validated ``kind`` of a dataset's ``source`` parameter."""
    kind = source.get("kind") if isinstance(source, Mapping) else None
    if kind not in SOURCE_KINDS:
        raise DatasetInputError(
            f"Dataset '{dataset}': parameter `source.kind` is {kind!r}; "
            f"set it to one of {list(SOURCE_KINDS)}."
        )
    return kind


def load_sklearn(name: str) -> pd.DataFrame:
    """A scikit-learn bundled dataset, its target in column ``target`` (class names for a
    classification dataset, numbers for a regression one)."""
    if name not in SKLEARN_LOADERS:
        raise DatasetInputError(
            f"Unknown scikit-learn dataset '{name}'. Choose one of {sorted(SKLEARN_LOADERS)} "
            "in the dataset's `source.name` parameter."
        )
    bunch = SKLEARN_LOADERS[name](as_frame=True)
    table = bunch.frame.copy()
    if "target_names" in bunch:
        # class names ("setosa"); for digits the names are the digits themselves
        table[SKLEARN_TARGET] = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
    return table


OPENML_SERVER = "https://www.openml.org/api/v1/xml"


@contextmanager
def _openml_config(cache_dir: Path, server: str) -> Iterator[Any]:
    """The ``openml`` module configured for one call, its global settings restored after."""
    import openml  # imported here: it reads its config files at import time

    config = openml.config
    saved = (config.server, config.connection_n_retries, config._root_cache_directory)
    config.set_root_cache_directory(str(cache_dir))
    config.server = server
    # one try: offline, the default retry policy sleeps for minutes before failing
    config.connection_n_retries = 1
    try:
        yield openml
    finally:
        config.server, config.connection_n_retries = saved[0], saved[1]
        config.set_root_cache_directory(str(saved[2]))


def load_openml(
    dataset_id: int, cache_dir: str | Path, server: str | None = None
) -> tuple[pd.DataFrame, str | None]:
    """Dataset ``dataset_id`` from OpenML, through the ``openml`` client and its cache.

    Returns the whole table (features and target) and OpenML's default target attribute.
    Online, the client downloads into ``cache_dir``; offline, it reads the cache there.
    ``server`` overrides the API root (a mirror, or a test stand-in).
    """
    import requests

    cache_dir = Path(cache_dir).resolve()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _openml_config(cache_dir, server or OPENML_SERVER) as openml:
        dataset_cache = Path(openml.config.get_cache_directory()) / "datasets" / str(dataset_id)
        try:
            dataset = openml.datasets.get_dataset(
                int(dataset_id),
                download_data=True,
                download_qualities=False,
                download_features_meta_data=False,
            )
            table, *_ = dataset.get_data(dataset_format="dataframe")
        except (requests.exceptions.RequestException, OSError) as error:
            raise DatasetInputError(
                f"OpenML dataset {dataset_id} is not in the OpenML cache ('{dataset_cache}' "
                f"is missing or incomplete) and the server {server or OPENML_SERVER} cannot be "
                f"reached ({type(error).__name__}). Run once with network access, or copy "
                f"the '{cache_dir}' folder of a machine that has the dataset, or use a "
                "bundled dataset such as `source: {kind: sklearn, name: iris}`."
            ) from error
        except openml.exceptions.OpenMLServerException as error:
            raise DatasetInputError(
                f"OpenML dataset {dataset_id} could not be fetched: {error}. "
                "Check the id on openml.org."
            ) from error
    # categorical columns become plain objects so that the table round-trips through parquet
    for column in table.columns:
        if isinstance(table[column].dtype, pd.CategoricalDtype):
            table[column] = table[column].astype(object)
    return table, dataset.default_target_attribute


def acquire(
    dataset: str,
    source: Mapping[str, Any],
    target: str | None = None,
    openml_cache: str | Path = "data/01_raw/openml",
    task: str = "classification",
    split_column: str | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The raw table of ``dataset`` (for ``task``) described by ``source``, and its
    ``source_info``.

    ``source.kind`` is ``synthetic``, ``sklearn`` or ``openml`` (a ``file`` source has no
    acquisition step: see ``describe_file``). ``target`` overrides the source's own target
    column. ``source_info`` records where the table came from, which column is the target and
    which one fixes the splits, if any (synthetic regression functions fix their test rows).
    """
    kind = source_kind(dataset, source)
    options = {k: v for k, v in source.items() if k not in ("kind", "name", "id", "server")}
    if kind == "synthetic":
        table = synthetic.generate(task, source.get("name", ""), **options)
        if task == "regression":
            default_target = synthetic.FUNCTION_TARGET
            split_column = split_column or synthetic.SPLIT_COLUMN
        else:
            default_target = synthetic.SYNTHETIC_TARGET
    elif kind == "sklearn":
        table, default_target = load_sklearn(source.get("name", "")), SKLEARN_TARGET
    elif kind == "openml":
        if "id" not in source:
            raise DatasetInputError(
                f"Dataset '{dataset}': an OpenML source needs `source.id`, the OpenML dataset id."
            )
        table, default_target = load_openml(source["id"], openml_cache, source.get("server"))
        if default_target:  # OpenML lists several targets comma-separated; LIFT predicts one
            default_target = default_target.split(",")[0]
    else:
        raise DatasetInputError(
            f"Dataset '{dataset}' has `source.kind: file`: its raw table comes from the catalog "
            f"entry '{dataset}.raw_table', not from an acquisition step."
        )
    target = target or default_target
    if not target:
        raise DatasetInputError(
            f"Dataset '{dataset}': its source names no target column; set the dataset's "
            "`target` parameter."
        )
    logger.info("Dataset '%s': acquired %d rows x %d columns", dataset, *table.shape)
    return table, source_info(dataset, source, target, table, split_column)


def describe_file(
    dataset: str,
    source: Mapping[str, Any],
    target: str | None,
    table: pd.DataFrame,
    split_column: str | None = None,
) -> dict[str, Any]:
    """``source_info`` of a table the user declared in the catalog (``source.kind: file``)."""
    if not target:
        raise DatasetInputError(
            f"Dataset '{dataset}' is read from a file: name its target column in the "
            f"dataset's `target` parameter (columns are {list(map(str, table.columns))})."
        )
    return source_info(dataset, source, target, table, split_column)


def source_info(
    dataset: str,
    source: Mapping[str, Any],
    target: str,
    table: pd.DataFrame,
    split_column: str | None = None,
) -> dict[str, Any]:
    """Provenance of a raw table: the dataset, its source, its target column, the column that
    fixes the splits (or None) and its shape."""
    return {
        "dataset": dataset,
        "source": dict(source),
        "target": str(target),
        "split_column": split_column,
        "n_rows": int(table.shape[0]),
        "n_columns": int(table.shape[1]),
        "columns": [str(c) for c in table.columns],
    }
