"""The whole configuration of one dataset (``<task>.datasets.<name>`` in the parameters): where
its table comes from, which column is the target, what to drop, what the paper published for
it, and the LIFT settings it runs with (the task's ``lift``, its own ``lift`` keys over them).
Built and validated in one place, ``DatasetEntry.from_params``; the pipeline checks every
entry before any work and hands each dataset's entry to its nodes as one object."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import Field, ValidationError

from lift.config.errors import DatasetInputError, invalid_parameters
from lift.config.lift import (
    TEMPLATE_KEYS,
    LiftSettings,
    Settings,
    reject_inconsistent,
    sets,
    with_overrides,
)
from lift.data import synthetic
from lift.data.acquisition import Source, SyntheticSource
from lift.data.preprocessing import TASKS, TaskName

logger = logging.getLogger(__name__)

NAME = re.compile(r"^[A-Za-z0-9_-]+$")


_logged: set[str] = set()


def log_precedence(
    overrides: Mapping[str, Any], task_lift: Mapping[str, Any], path: str, own: str, at: str = ""
) -> None:
    """Log, once per process, each value a dataset's own ``lift`` keys set over another value
    the task's section sets (an environment's task-level setting does not win over it)."""
    for key, value in overrides.items():
        if key not in task_lift:
            continue
        if isinstance(value, Mapping) and isinstance(task_lift[key], Mapping):
            log_precedence(value, task_lift[key], path, own, f"{at}{key}.")
        elif value != task_lift[key] and f"{own}.{at}{key}" not in _logged:
            _logged.add(f"{own}.{at}{key}")
            logger.info(
                "`%s.%s%s` is %r: the dataset's own value wins over `%s.%s%s` (%r); set it in "
                "the dataset's entry of the environment to change it.",
                own,
                at,
                key,
                value,
                path,
                at,
                key,
                task_lift[key],
            )


class DatasetEntry(Settings):
    """One dataset's configuration (``<task>.datasets.<name>``): where its table comes from,
    its target and features, and its own LIFT settings over the task's."""

    given_fields: ClassVar[tuple[str, ...]] = ("name", "task")  # from the namespace, not keys

    name: str
    task: TaskName
    source: Source
    """Where the raw table comes from, by `kind` (below)."""
    target: str | None = None
    """The target column; null: the source's own (scikit-learn's, OpenML's default target)."""
    split_column: str | None = None
    """A column holding `train`, `validation` and `test` that fixes the split; null: the
    paper's stratified random splits."""
    drop_columns: list[str] = []
    """Columns that are not features (an id, a leak)."""
    max_categories: Annotated[int, Field(gt=0)] = 50
    """The most distinct values a text feature may have (drop a column with more)."""
    sample: Annotated[int, Field(ge=10)] | None = None
    """Rows kept of a large table before it is split, class-balanced (e.g. MNIST's 70,000
    images to 5,000); null: every row."""
    sample_seed: Annotated[int, Field(ge=0)] = 0
    """The seed of that sample."""
    lift: LiftSettings = LiftSettings()
    """The dataset's own LIFT settings, over the task's."""

    @property
    def kind(self) -> str:
        """Where the raw table comes from: synthetic, sklearn, openml or file."""
        return self.source.kind

    @classmethod
    def from_params(
        cls,
        task: str,
        name: str,
        params: Mapping[str, Any] | None,
        task_lift: Mapping[str, Any] | None = None,
        study: Mapping[str, Any] | None = None,
    ) -> DatasetEntry:
        """The entry of dataset ``name`` of ``task`` from its parameters, its ``lift`` keys
        merged over ``task_lift`` (the task's ``lift`` section) and a study's ``lift`` keys
        (``study``, e.g. the encoding it compares) over both. Any unknown key or bad value
        raises ``DatasetInputError`` naming the dataset and the parameter's full path
        (``classification.datasets.iris.lift.lora.rank``, or ``classification.lift.lora.rank``
        when the value comes from the task's section)."""
        subject = f"Dataset '{name}': "
        if not NAME.match(str(name)):
            raise DatasetInputError(
                f"Dataset name {name!r} in `{task}.datasets` cannot be a Kedro namespace; use "
                "letters, digits, '_' and '-' only."
            )
        if not isinstance(params, Mapping):
            raise DatasetInputError(
                f"{subject}parameter `{task}.datasets.{name}` is {params!r}; give it a mapping "
                "such as `{source: {kind: sklearn, name: iris}}` (or null to switch it off)."
            )
        params = dict(params)
        overrides = params.pop("lift", None) or {}
        own = f"{task}.datasets.{name}"
        if not isinstance(overrides, Mapping):
            raise DatasetInputError(
                f"{subject}parameter `{own}.lift` is {overrides!r}; give it a mapping of the "
                f"`{task}.lift` keys this dataset changes, such as `{{training: {{epochs: 2}}}}`."
            )
        lift = LiftSettings.from_params(
            task_lift,
            with_overrides(overrides, study or {}),
            f"{task}.lift",
            f"{own}.lift",
            subject,
            task=task,
        )
        try:
            entry = cls.model_validate({**params, "name": name, "task": task, "lift": lift})
        except ValidationError as error:
            if any(problem["loc"] == ("source",) for problem in error.errors()) and not (
                params.get("source")
            ):
                raise DatasetInputError(
                    f"{subject}it has no `source` parameter; add one such as "
                    "`source: {kind: sklearn, name: iris}`."
                ) from None
            raise invalid_parameters(error, cls, own, subject) from None
        if isinstance(entry.source, SyntheticSource):
            try:
                known = synthetic.options_of(task, entry.source.name)
            except DatasetInputError as error:
                raise DatasetInputError(f"{subject}{error}") from None
            unknown = sorted(set(entry.source.options) - set(known))
            if unknown:
                raise DatasetInputError(
                    f"{subject}parameter `{own}.source` has unknown keys {unknown}; the "
                    f"generator '{entry.source.name}' takes {known}."
                )
        consistency = [("generation", "mode"), *(("serialization", k) for k in TEMPLATE_KEYS)]
        where = own if any(sets(overrides, key) for key in consistency) else task
        reject_inconsistent(lift, task, f"{subject}parameter `{where}.lift.")
        return entry


# A dataset's own catalog entry `<task>.<name>.<artifact>`: its `raw_table` (declaring the
# dataset by itself with its parameters under `metadata: {lift: {...}}`; Kedro keeps
# `metadata` for plugins) or its `new_rows` for a trained dataset to answer (`kedro run
# --pipelines=predict`)
ENTRY = re.compile(r"^(?P<task>[A-Za-z0-9_]+)\.(?P<name>[A-Za-z0-9_-]+)\.(?P<artifact>\w+)$")
METADATA_KEY = "lift"


def active(datasets: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Mapping[str, Any]]:
    """The declared datasets, less those an environment switched off with ``name: null``."""
    return {name: params for name, params in datasets.items() if params is not None}


def new_rows_entries(catalog: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(task, dataset)`` of every ``catalog`` entry ``<task>.<name>.new_rows``, sorted.
    Raises ``DatasetInputError`` for a task that does not exist."""
    found = []
    for key in catalog:
        match = ENTRY.match(str(key))
        if match is None or match["artifact"] != "new_rows":
            continue
        if match["task"] not in TASKS:
            raise DatasetInputError(
                f"Catalog entry `{key}` holds new rows for task '{match['task']}'; name it "
                f"`<task>.{match['name']}.new_rows` with a task of {list(TASKS)}."
            )
        found.append((match["task"], match["name"]))
    return sorted(found)


def with_catalog_datasets(
    parameters: Mapping[str, Any], catalog: Mapping[str, Any]
) -> dict[str, Any]:
    """``parameters`` with every dataset that a ``catalog`` entry alone declares added to its
    task's ``datasets``: the entry ``<task>.<name>.raw_table`` with ``metadata: {lift: {target:
    ..., ...}}`` becomes ``<task>.datasets.<name>`` = ``{source: {kind: file}, target: ...}``.
    A dataset declared in both places keeps its parameters' options and must agree with the
    catalog on every key both set (its source a file); one an environment switched off (null)
    stays off. Raises ``DatasetInputError`` naming both places if they disagree."""
    merged = dict(parameters)
    for key, config in catalog.items():
        match = ENTRY.match(str(key))
        metadata = (config or {}).get("metadata") if isinstance(config, Mapping) else None
        declared = (metadata or {}).get(METADATA_KEY) if isinstance(metadata, Mapping) else None
        if match is None or match["artifact"] != "raw_table" or declared is None:
            continue
        task, name = match["task"], match["name"]
        if task not in TASKS:
            raise DatasetInputError(
                f"Catalog entry `{key}` declares a dataset (`metadata.{METADATA_KEY}`) for task "
                f"'{task}'; name it `<task>.{name}.raw_table` with a task of {list(TASKS)}."
            )
        if not isinstance(declared, Mapping):
            raise DatasetInputError(
                f"Catalog entry `{key}`: `metadata.{METADATA_KEY}` is {declared!r}; give the "
                "dataset's parameters there as a mapping, e.g. `{target: species}`."
            )
        section = dict(merged.get(task) or {})
        datasets = dict(section.get("datasets") or {})
        from_catalog = {"source": {"kind": "file"}, **declared}
        if name in datasets and datasets[name] is not None:
            own = datasets[name]
            clashes = [
                f"{k}: {from_catalog[k]!r} in the catalog, {own[k]!r} in the parameters"
                for k in from_catalog
                if k in own and own[k] != from_catalog[k]
            ]
            if clashes:
                raise DatasetInputError(
                    f"Dataset '{name}' is declared by catalog entry `{key}` and by parameter "
                    f"`{task}.datasets.{name}`, and they disagree ({'; '.join(clashes)}). Keep "
                    "one of them, or make them agree."
                )
            datasets[name] = {**from_catalog, **own}
        elif name not in datasets:
            datasets[name] = from_catalog
        section["datasets"] = datasets
        merged[task] = section
    return merged
