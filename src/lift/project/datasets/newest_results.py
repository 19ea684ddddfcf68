"""``NewestResults``: every pipeline's results under a reporting folder (the tasks'
``metrics.csv``, the studies' ``results.csv``), each table's rows from the newest saved version
that has it (a run of another environment since does not hide it); what a report over
whatever has run reads. Loading only: each artifact is its pipeline's to write."""

from __future__ import annotations

from typing import Any

import fsspec
import pandas as pd
from kedro.io import AbstractDataset, DatasetError


class NewestResults(AbstractDataset[None, dict[str, pd.DataFrame]]):
    """Under the reporting folder ``filepath``, each ``<pipeline>/<file>/<version>/<file>``
    for ``file`` in ``files`` (Kedro's layout of a versioned artifact), by pipeline.

    Example catalog entry::

        paper_report.results:
          type: lift.project.datasets.NewestResults
          filepath: data/08_reporting
          files: [metrics.csv, results.csv]
    """

    def __init__(
        self,
        *,
        filepath: str,
        files: list[str],
        credentials: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._folder = filepath
        self._files = list(files)
        self._fs, self._root = fsspec.core.url_to_fs(filepath, **(credentials or {}))
        self.metadata = metadata

    def saved(self) -> dict[str, list[str]]:
        """Each pipeline's saved results files (the folder's name), newest first."""
        fs, root = self._fs, self._root
        found: dict[str, list[str]] = {}
        if not fs.isdir(root):
            return found
        for folder in sorted(fs.ls(root, detail=False)):
            for name in self._files:
                artifact = f"{folder.rstrip('/')}/{name}"
                versions = sorted(fs.ls(artifact, detail=False)) if fs.isdir(artifact) else []
                paths = [f"{v.rstrip('/')}/{name}" for v in reversed(versions)]
                paths = [fs.unstrip_protocol(path) for path in paths if fs.isfile(path)]
                if paths:
                    found[folder.rstrip("/").rsplit("/", 1)[-1]] = paths
        return found

    def load(self) -> dict[str, pd.DataFrame]:
        """By pipeline, the rows of each of its tables (``dataset``) from the newest version
        that has the table, with that ``version``."""
        results = {}
        for pipeline, paths in self.saved().items():
            parts, seen = [], set()
            for path in paths:
                with self._fs.open(path) as file:
                    table = pd.read_csv(file)
                if "variant" in table:  # a study's table as it is (an empty one reads as NaN)
                    table["variant"] = table["variant"].fillna("").astype(str)
                if "dataset" not in table:  # no tables to tell apart: the newest as it is
                    parts.append(table.assign(version=path.rstrip("/").split("/")[-2]))
                    break
                new = table[~table["dataset"].isin(seen)]
                parts.append(new.assign(version=path.rstrip("/").split("/")[-2]))
                seen |= set(table["dataset"])
            results[pipeline] = pd.concat(parts, ignore_index=True)
        return results

    def save(self, data: None) -> None:
        raise DatasetError("NewestResults is read only: each artifact is its pipeline's to write")

    def _exists(self) -> bool:
        return True  # an empty mapping where nothing has run yet

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._folder, "files": self._files}
