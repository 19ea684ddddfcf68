"""The predict pipeline's node: a thin call of ``lift.new_rows``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lift import new_rows as new_rows_
from lift.dataset_entry import DatasetEntry
from lift.encoding import Encodings
from lift.fine_tuning import TrainedAdapter
from lift.language_model import BaseModel


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
