"""What every artifact was made from, so that a run never combines artifacts that do not
belong together (a failed or interrupted run leaves newer versions of some artifacts behind;
a resume with other parameters would use settings made with the old ones).

Each saved artifact version gets a record: the run that wrote it, a digest of its bytes, and
what it was made from, as ``{name: digest}`` over its whole ancestry (artifacts and the
parameters nodes read, ``params:<key>``). Before a node runs, the digests its inputs claim for
every ancestor must agree, and the parameters must be this run's; otherwise the run stops
with the disagreement named (``RunMixError``). Digests of content, not version names: a
deterministic rerun writes byte-identical artifacts, which may be combined freely.

The records live in the data store, local or an object store, under
``<data_root>/lineage/<run>/<artifact>.json`` (a run is its save version, the timestamp in every
artifact path it wrote), and each run's parameters in ``<run>/parameters.json`` beside them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lift.config.errors import DatasetInputError
from lift.project.storage import DIGEST_CHARS, Store, local

PARAMS = "params:"
# the tag of a node that reads artifacts of earlier runs as they were made (the predict
# pipeline): they must agree with each other, not with this run's parameters
FROM_EARLIER_RUNS = "from_earlier_runs"


class RunMixError(DatasetInputError):
    """A node would combine artifacts (or parameters) that were not made together."""


def digest_of_value(value: Any) -> str:
    """Digest of a parameter value (its JSON with sorted keys)."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:DIGEST_CHARS]


@dataclass(frozen=True)
class Record:
    """One artifact version: the run that wrote it (None if it has no record: written before
    records were kept, or not versioned), its digest, and its ancestry ``{name: digest}``."""

    run: str | None
    digest: str
    made_from: dict[str, str] = field(default_factory=dict)


class LineageStore:
    """Records of artifact versions and parameters of runs, as small JSON files in a folder of
    the data store (``<data_root>/lineage``, local or an object store: read through fsspec
    like every artifact)."""

    def __init__(self, store: Store) -> None:
        self.fs, self.root = store.fs, store.path

    def _file(self, run: str, name: str) -> str:
        return f"{self.root}/{run}/{name}.json"

    def _content(self, file: str) -> Any:
        try:
            return json.loads(self.fs.cat_file(file))
        except FileNotFoundError:
            return None

    def write(self, name: str, record: Record) -> None:
        """Keep ``record`` of artifact ``name`` (written whole or not at all: a killed run
        leaves no half record)."""
        assert record.run is not None
        self._write_json(
            self._file(record.run, name), {"digest": record.digest, "made_from": record.made_from}
        )

    def read(self, name: str, run: str) -> Record | None:
        """The record of ``name`` as run ``run`` wrote it, or None."""
        content = self._content(self._file(run, name))
        return None if content is None else Record(run, content["digest"], content["made_from"])

    def runs_with(self, name: str, digest: str) -> list[str]:
        """The runs (oldest first) whose version of artifact ``name`` has ``digest``."""
        if not self.fs.isdir(self.root):
            return []
        runs = sorted(
            entry["name"].rstrip("/").rsplit("/", 1)[-1]
            for entry in self.fs.ls(self.root, detail=True)
            if entry["type"] == "directory"
        )
        return [run for run in runs if (record := self.read(name, run)) and record.digest == digest]

    def recorded(self, run: str) -> bool:
        """Whether run ``run`` kept records (it saved an artifact to the end with them): then a
        version of it without a record is a save that never completed. A run on workers that
        keep none (the Dask runner's) has no records at all."""
        return self.fs.isdir(f"{self.root}/{run}")

    def write_parameters(self, run: str, parameters: Mapping[str, Any]) -> None:
        self._write_json(self._file(run, "parameters"), parameters)

    def parameter(self, run: str, key: str) -> tuple[bool, Any]:
        """``(found, value)`` of the dotted parameter ``key`` as run ``run`` had it."""
        content = self._content(self._file(run, "parameters"))
        return (False, None) if content is None else lookup(content, key)

    def _write_json(self, file: str, content: Any) -> None:
        """One write of the whole file: an object store's put is whole or nothing; a local
        file is written aside and renamed."""
        text = json.dumps(content, indent=1, sort_keys=True, default=str).encode()
        self.fs.makedirs(file.rsplit("/", 1)[0], exist_ok=True)
        if not local(self.fs):
            self.fs.pipe_file(file, text)
            return
        partial = file.removesuffix(".json") + ".partial"
        self.fs.pipe_file(partial, text)
        self.fs.mv(partial, file)


def lookup(parameters: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    """``(found, value)`` of a dotted ``key`` in nested ``parameters`` (Kedro's ``params:``
    names; a key may itself contain dots, so the longest matching prefix is taken first)."""
    if key in parameters:
        return True, parameters[key]
    parts = key.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in parameters and isinstance(parameters[head], Mapping):
            return lookup(parameters[head], ".".join(parts[cut:]))
    return False, None


def differences(before: Any, now: Any, prefix: str = "") -> list[str]:
    """``key: <before> then, <now> now`` for each leaf that differs between two values."""
    if isinstance(before, Mapping) and isinstance(now, Mapping):
        found = []
        for key in sorted(set(before) | set(now), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in now:
                found.append(f"{path}: {before[key]!r} then, absent now")
            elif key not in before:
                found.append(f"{path}: absent then, {now[key]!r} now")
            else:
                found.extend(differences(before[key], now[key], path))
        return found
    return [] if before == now else [f"{prefix or 'value'}: {before!r} then, {now!r} now"]


@dataclass(frozen=True)
class Input:
    """A node's input as loaded: its name, version (None if not versioned) and record."""

    name: str
    version: str | None
    record: Record


def ancestry(inputs: Iterable[Input]) -> dict[str, str]:
    """What an artifact made from ``inputs`` is made from: each input and its ancestry (an
    input without a digest, one that lives in memory for one run, by its ancestry only)."""
    made_from: dict[str, str] = {}
    for item in inputs:
        made_from.update(item.record.made_from)
        if item.record.digest:
            made_from[item.name] = item.record.digest
    return made_from


def disagreements(
    inputs: list[Input],
    parameters: Mapping[str, Any] | None,
    store: LineageStore,
) -> list[tuple[str, str]]:
    """Why ``inputs`` do not belong together: ``(name, why)`` per disagreeing artifact or
    parameter (``params:<key>``), none if they do:
    an artifact that the inputs (loaded, or in their ancestry) claim with different digests,
    or a parameter that an input was made with and that this run's ``parameters`` (all of
    them; None: not compared) set otherwise."""
    claims: dict[str, dict[str, str]] = {}  # artifact -> digest -> who claims it
    for item in inputs:
        if item.record.digest and not item.name.startswith(PARAMS):
            loaded = f"version {item.version}" if item.version else "its current content"
            claims.setdefault(item.name, {}).setdefault(
                item.record.digest, f"this run loads {loaded}"
            )
    changed: dict[str, tuple[list[str], str]] = {}  # parameter -> (made with it, the change)
    for item in inputs:
        where = f"`{item.name}`" + (f" (version {item.version})" if item.version else "")
        for name, digest in item.record.made_from.items():
            if name.startswith(PARAMS):
                if parameters is None:
                    continue
                change = _parameter_change(name, digest, item, parameters, store)
                if change:
                    changed.setdefault(name, ([], change))[0].append(where)
            else:
                claims.setdefault(name, {}).setdefault(digest, f"{where} was made from another")
    lines = [
        (
            name,
            f"parameters `{name[len(PARAMS) :]}`: {', '.join(made)} made with other values "
            f"than this run's ({change})",
        )
        for name, (made, change) in changed.items()
    ]
    for name, by_digest in claims.items():
        if len(by_digest) > 1:
            lines.append((name, f"`{name}`: " + "; ".join(sorted(by_digest.values()))))
    return sorted(set(lines))


def made_together(inputs: list[Input], store: LineageStore) -> dict[str, str]:
    """Versions to load so that ``inputs`` agree with the one among them made from the most
    (a model, say): for each other input it was made from with another version than the one
    loaded, the newest version whose content it was made from. Empty if there is none."""
    anchor = max(inputs, key=lambda item: len(item.record.made_from))
    versions = {}
    for item in inputs:
        claimed = anchor.record.made_from.get(item.name)
        if item is anchor or item.version is None or claimed in (None, item.record.digest):
            continue
        runs = store.runs_with(item.name, claimed)
        if not runs:
            return {}
        versions[item.name] = runs[-1]
    return versions


def _parameter_change(
    name: str, digest: str, item: Input, parameters: Mapping[str, Any], store: LineageStore
) -> str | None:
    """How this run's parameter ``name`` differs from the one ``item`` was made with (None if
    it does not)."""
    key = name[len(PARAMS) :]
    found, now = lookup(parameters, key)
    if found and digest_of_value(now) == digest:
        return None
    had, before = store.parameter(item.record.run, key) if item.record.run else (False, None)
    return "; ".join(differences(before, now)) if had and found else "set otherwise now"
