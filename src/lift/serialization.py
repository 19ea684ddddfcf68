"""Rows as sentences (lift-reference.md, "Serialization used by the paper").

``paper``, classification: ``When we have x1=5.10, x2=3.50, What is this type?###`` -> `` 0@@@``
``paper``, regression: ``When we have x1=-3.1416, what should be the y value?###`` -> `` 2.718@@@``
``feature_names``: ``Given that sepal length (cm) is 5.10, ..., What is the category?###``
(regression: ``..., what should be the <target> value?###``).
A classification completion is the integer class index, a regression one the target written
with ``target_decimals`` decimals; training appends the tokenizer's EOS to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from lift.errors import DatasetInputError
from lift.lift_settings import COMPLETION_SUFFIX, PROMPT_SUFFIX, SerializationSettings
from lift.preprocessing import task_of

QUESTIONS = {
    "paper": {"classification": "What is this type?", "regression": "what should be the y value?"},
    "feature_names": {
        "classification": "What is the category?",
        "regression": "what should be the {target} value?",
    },
}
TEMPLATES = tuple(QUESTIONS)


def _value(value: Any, decimals: int) -> str:
    if isinstance(value, str):
        return value
    return f"{float(value):.{decimals}f}"


def prompt_for(
    values: Sequence[Any],
    names: Sequence[str],
    task: str,
    template: str = "paper",
    decimals: int = 2,
    prompt_suffix: str = PROMPT_SUFFIX,
    target: str = "y",
) -> str:
    """The prompt of one row: its feature ``values`` (named ``names``) in ``template``, asking
    the question of ``task`` (about column ``target``, in the feature-name template)."""
    if template not in QUESTIONS:
        raise DatasetInputError(
            f"Parameter `lift.serialization.template` is {template!r}; choose one of "
            f"{list(TEMPLATES)}."
        )
    question = QUESTIONS[template][task].format(target=target)
    if template == "paper":
        pairs = ", ".join(f"x{i + 1}={_value(v, decimals)}" for i, v in enumerate(values))
        return f"When we have {pairs}, {question}{prompt_suffix}"
    pairs = ", ".join(f"{n} is {_value(v, decimals)}" for n, v in zip(names, values, strict=True))
    return f"Given that {pairs}, {question}{prompt_suffix}"


def completion_for(
    value: Any,
    task: str,
    target_decimals: int = 3,
    completion_suffix: str = COMPLETION_SUFFIX,
) -> str:
    """The completion of a row whose target is ``value``: a space, the class index (or the
    number with ``target_decimals`` decimals), the suffix."""
    if task == "regression":
        return f" {float(value):.{int(target_decimals)}f}{completion_suffix}"
    return f" {int(value)}{completion_suffix}"


def prompts_of(
    table: pd.DataFrame, schema: Mapping[str, Any], settings: SerializationSettings
) -> list[str]:
    """The prompt of every row of ``table`` (its features as ``schema`` lists them), in order."""
    features = list(schema["features"])
    task = task_of(schema)
    return [
        prompt_for(
            values,
            features,
            task,
            settings.template,
            settings.decimals,
            settings.prompt_suffix,
            schema["target"],
        )
        for values in table[features].itertuples(index=False, name=None)
    ]


def serialize(
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    splits: pd.DataFrame,
    settings: SerializationSettings | None = None,
) -> pd.DataFrame:
    """Prompts and completions of every row in every split and repeat.

    Returns one row per entry of ``splits``: ``repeat, split, row, prompt, completion, target``.
    Features are written as raw values (numbers with ``settings.decimals`` decimals, text as it
    is); the task (``schema["task"]``) decides the question and the completion.
    """
    settings = settings or SerializationSettings()
    task = task_of(schema)
    prompts = prompts_of(table, schema, settings)
    targets = table[schema["target"]].to_numpy()
    rows = splits["row"].to_numpy()
    return pd.DataFrame(
        {
            "repeat": splits["repeat"].to_numpy(),
            "split": splits["split"].to_numpy(),
            "row": rows,
            "prompt": [prompts[r] for r in rows],
            "completion": [
                completion_for(
                    targets[r], task, settings.target_decimals, settings.completion_suffix
                )
                for r in rows
            ],
            "target": targets[rows] if task == "regression" else targets[rows].astype(int),
        }
    )
