"""``TypedJSONDataset``: a validated configuration or fitted object of the method library (a
pydantic model such as ``lift.data.entry.DatasetEntry`` or ``lift.method.encoding.Encodings``) as
versioned JSON. Loading validates the file again and gives back the typed object, so every node
reads the same object the node before it wrote."""

from __future__ import annotations

import importlib
import json
from typing import Any

from kedro_datasets._typing import JSONPreview
from kedro_datasets.json import JSONDataset
from pydantic import BaseModel


class TypedJSONDataset(JSONDataset):
    """A pydantic ``model`` (its import path) saved as JSON; the other options are
    ``JSONDataset``'s (filepath, versioned, save_args, ...).

    Example catalog entry::

        "{task}.{dataset}.settings":
          type: lift.project.datasets.TypedJSONDataset
          model: lift.data.entry.DatasetEntry
          filepath: data/01_raw/{task}/{dataset}/settings.json
          versioned: true
    """

    def __init__(self, *, model: str, **options: Any) -> None:
        module, _, name = model.rpartition(".")
        self._model: type[BaseModel] = getattr(importlib.import_module(module), name)
        super().__init__(**options)

    def load(self) -> BaseModel:
        return self._model.model_validate(JSONDataset.load.__wrapped__(self))

    def save(self, data: BaseModel) -> None:
        JSONDataset.save.__wrapped__(self, data.model_dump(mode="json"))

    def preview(self) -> JSONPreview:
        return JSONPreview(json.dumps(JSONDataset.load.__wrapped__(self)))
