"""The whole configuration of one dataset (``<task>.datasets.<name>`` in the parameters): where
its table comes from, which column is the target, what to drop, what the paper published for
it, and the LIFT settings it runs with (the task's ``lift``, its own ``lift`` keys over them).
Built and validated in one place, ``DatasetEntry.from_params``; the pipeline checks every
entry before any work and hands each dataset's entry to its nodes as one object."""

from __future__ import annotations

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

NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class DatasetEntry(Settings):
    """One dataset's configuration.

    ``source`` says where the raw table comes from (``acquisition.Source``); ``target`` names
    the target column (needed for files, optional otherwise); ``split_column`` names a column
    that fixes each row's split (``train``, ``validation``, ``test``) instead of the random
    protocol; ``drop_columns`` are left out of the features; ``max_categories`` bounds a text
    column's distinct values; ``sample`` cuts a large table to that many rows before it is
    split (class-balanced where classes, drawn with ``sample_seed``); ``paper`` holds what the
    LIFT paper published for this dataset by model name (accuracy as a fraction for
    classification, RAE for regression); ``lift`` is the dataset's LIFT settings, the task's
    with the dataset's own ``lift`` keys over them.
    """

    given_fields: ClassVar[tuple[str, ...]] = ("name", "task")  # from the namespace, not keys

    name: str
    task: TaskName
    source: Source
    target: str | None = None
    split_column: str | None = None
    drop_columns: list[str] = []
    max_categories: Annotated[int, Field(gt=0)] = 50
    sample: Annotated[int, Field(ge=10)] | None = None  # e.g. MNIST's 70,000 images to 2,000
    sample_seed: Annotated[int, Field(ge=0)] = 0
    paper: dict[str, float] = {}
    lift: LiftSettings = LiftSettings()

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
