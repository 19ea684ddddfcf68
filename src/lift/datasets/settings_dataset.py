"""``SettingsDataset``: a dataset's settings (``lift.dataset_entry.DatasetEntry``: its source,
target, the paper's figures and the LIFT settings it ran with) as versioned JSON. Loading
validates the file again and gives back the typed entry, so every node reads the same object."""

from __future__ import annotations

import json

from kedro_datasets._typing import JSONPreview
from kedro_datasets.json import JSONDataset

from lift.dataset_entry import DatasetEntry


class SettingsDataset(JSONDataset):
    """A ``DatasetEntry`` saved as JSON (``JSONDataset``'s options: filepath, versioned,
    save_args, ...).

    Example catalog entry::

        "{task}.{dataset}.settings":
          type: lift.datasets.SettingsDataset
          filepath: data/01_raw/{task}/{dataset}/settings.json
          versioned: true
    """

    def load(self) -> DatasetEntry:
        return DatasetEntry.from_json(JSONDataset.load.__wrapped__(self))

    def save(self, data: DatasetEntry) -> None:
        JSONDataset.save.__wrapped__(self, data.to_json())

    def preview(self) -> JSONPreview:
        return JSONPreview(json.dumps(JSONDataset.load.__wrapped__(self)))
