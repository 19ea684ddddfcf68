"""The predict pipeline's nodes: thin calls of ``lift.method.new_rows``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lift.config.errors import DatasetInputError
from lift.data.entry import DatasetEntry
from lift.method import new_rows as new_rows_
from lift.method.encoding import Encodings
from lift.method.fine_tuning import TrainedAdapter
from lift.method.language_model import BaseModel


def predict_new_rows(
    new_rows: pd.DataFrame,
    settings: DatasetEntry,
    schema: dict[str, Any],
    encoding: Encodings,
    adapters: dict[int, TrainedAdapter],
    prompts: pd.DataFrame,
    base_model: dict[str, Any],
    repeat: int,
) -> pd.DataFrame:
    """The new rows as given, with the answers of repeat ``repeat``'s adapter beside them."""
    return new_rows_.predict_new_rows(
        settings.name,
        new_rows,
        schema,
        BaseModel.from_dict(base_model),
        adapters,
        int(repeat),
        prompts,
        settings.lift,
        encoding,
    )


def no_new_rows(predict: dict[str, Any]) -> None:
    """The pipeline's only node where no catalog entry declares new rows (``predict``: the
    pipeline's parameters): says how to declare them."""
    raise DatasetInputError(
        "No catalog entry declares new rows to predict. Add one named "
        "`<task>.<dataset>.new_rows` for a dataset whose pipeline has run, e.g. in "
        "conf/local/catalog.yml:\n  classification.iris.new_rows:\n    type: pandas.CSVDataset"
        "\n    filepath: data/01_raw/iris_new.csv\n(docs/tutorials/predict.md)."
    )
