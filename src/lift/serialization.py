"""Rows as sentences (lift-reference.md, "Serialization used by the paper").

``paper``: ``When we have x1=5.10, x2=3.50, What is this type?###`` -> `` 0@@@``
``feature_names``: ``Given that sepal length (cm) is 5.10, ..., What is the category?###``
The completion is the integer class index; training appends the tokenizer's EOS to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from lift.errors import DatasetInputError

TEMPLATES = ("paper", "feature_names")


def _value(value: Any, decimals: int) -> str:
    if isinstance(value, str):
        return value
    return f"{float(value):.{decimals}f}"


def prompt_for(
    values: Sequence[Any],
    names: Sequence[str],
    template: str = "paper",
    decimals: int = 2,
    prompt_suffix: str = "###",
) -> str:
    """The prompt of one row: its feature ``values`` (named ``names``) in ``template``."""
    if template == "paper":
        pairs = ", ".join(f"x{i + 1}={_value(v, decimals)}" for i, v in enumerate(values))
        return f"When we have {pairs}, What is this type?{prompt_suffix}"
    if template == "feature_names":
        pairs = ", ".join(
            f"{n} is {_value(v, decimals)}" for n, v in zip(names, values, strict=True)
        )
        return f"Given that {pairs}, What is the category?{prompt_suffix}"
    raise DatasetInputError(
        f"Parameter `lift.serialization.template` is {template!r}; choose one of {list(TEMPLATES)}."
    )


def completion_for(label: int, completion_suffix: str = "@@@") -> str:
    """The completion of a row of class ``label``: a space, the class index, the suffix."""
    return f" {int(label)}{completion_suffix}"


def serialize(
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    splits: pd.DataFrame,
    template: str = "paper",
    decimals: int = 2,
    prompt_suffix: str = "###",
    completion_suffix: str = "@@@",
) -> pd.DataFrame:
    """Prompts and completions of every row in every split and repeat.

    Returns one row per entry of ``splits``: ``repeat, split, row, prompt, completion, label``.
    Features are written as raw values (numbers with ``decimals`` decimals, text as it is).
    """
    features = list(schema["features"])
    prompts = [
        prompt_for(values, features, template, int(decimals), prompt_suffix)
        for values in table[features].itertuples(index=False, name=None)
    ]
    labels = table[schema["target"]].to_numpy()
    rows = splits["row"].to_numpy()
    return pd.DataFrame(
        {
            "repeat": splits["repeat"].to_numpy(),
            "split": splits["split"].to_numpy(),
            "row": rows,
            "prompt": [prompts[r] for r in rows],
            "completion": [completion_for(labels[r], completion_suffix) for r in rows],
            "label": labels[rows].astype(int),
        }
    )
