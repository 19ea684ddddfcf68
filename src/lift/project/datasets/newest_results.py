"""``NewestResults``: the newest saved version of every pipeline's results under a reporting
folder (the tasks' ``metrics.csv``, the studies' ``results.csv``), of those that have run; what
a report over whatever has run reads. Loading only: each artifact is its pipeline's to write."""

from __future__ import annotations

from typing import Any

import fsspec
import pandas as pd
from kedro.io import AbstractDataset, DatasetError


class NewestResults(AbstractDataset[None, dict[str, pd.DataFrame]]):
    """Under ``folder``, each ``<pipeline>/<file>/<version>/<file>`` for ``file`` in
    ``files`` (Kedro's layout of a versioned artifact), the newest version, by pipeline.

    Example catalog entry::

        paper_report.results:
          type: lift.project.datasets.NewestResults
          folder: data/08_reporting
          files: [metrics.csv, results.csv]
    """

    def __init__(
        self, *, folder: str, files: list[str], metadata: dict[str, Any] | None = None
    ) -> None:
        self._folder = folder
        self._files = list(files)
        self.metadata = metadata

    def newest(self) -> dict[str, str]:
        """Each pipeline's newest results file, by pipeline (the folder's name)."""
        fs, root = fsspec.core.url_to_fs(self._folder)
        found = {}
        if not fs.isdir(root):
            return found
        for folder in sorted(fs.ls(root, detail=False)):
            for name in self._files:
                artifact = f"{folder.rstrip('/')}/{name}"
                versions = sorted(fs.ls(artifact, detail=False)) if fs.isdir(artifact) else []
                saved = [f"{v.rstrip('/')}/{name}" for v in versions]
                saved = [path for path in saved if fs.isfile(path)]
                if saved:
                    found[folder.rstrip("/").rsplit("/", 1)[-1]] = fs.unstrip_protocol(saved[-1])
        return found

    def load(self) -> dict[str, pd.DataFrame]:
        results = {}
        for pipeline, path in self.newest().items():
            table = pd.read_csv(path)
            if "variant" in table:  # a study's table as it is (an empty variant reads as NaN)
                table["variant"] = table["variant"].fillna("").astype(str)
            results[pipeline] = table
        return results

    def save(self, data: None) -> None:
        raise DatasetError("NewestResults is read only: each artifact is its pipeline's to write")

    def _exists(self) -> bool:
        return True  # an empty mapping where nothing has run yet

    def _describe(self) -> dict[str, Any]:
        return {"folder": self._folder, "files": self._files}
