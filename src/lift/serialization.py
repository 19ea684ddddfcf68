"""Rows as sentences (the LIFT paper, arXiv:2206.06565).

``paper``, classification: ``When we have x1=5.10, x2=3.50, What is this type?###`` -> `` 0@@@``
``paper``, regression: ``When we have x1=-3.1416, what should be the y value?###`` -> `` 2.718@@@``
``feature_names``: ``Given that sepal length (cm) is 5.10, ..., What is the category?###``
(regression: ``..., what should be the <target> value?###``).
A classification completion is the integer class index, a regression one the target written
with ``target_decimals`` decimals; training appends the tokenizer's EOS to it. How numbers are
written beyond the paper's fixed decimals (significant digits, scales fitted on the training
rows) is ``lift.encoding``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from lift.encoding import Encodings, fit_encodings
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
    number with ``target_decimals`` decimals; a text is taken as written), the suffix."""
    if isinstance(value, str):
        return f" {value}{completion_suffix}"
    if task == "regression":
        return f" {float(value):.{int(target_decimals)}f}{completion_suffix}"
    return f" {int(value)}{completion_suffix}"


def serialize(
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    splits: pd.DataFrame,
    settings: SerializationSettings | None = None,
    encodings: Encodings | None = None,
) -> pd.DataFrame:
    """Prompts and completions of every row in every split and repeat.

    Returns one row per entry of ``splits`` and encoding: ``repeat, split, row, encoding,
    prompt, completion, target`` (``target`` in the table's units). Numbers are written by the
    repeat's encodings (fitted on that repeat's training rows unless ``encodings`` are given;
    ``settings.encoding``; several where a selection chooses among them), text as it is; the
    task (``schema["task"]``) decides the question and the completion.
    """
    settings = settings or SerializationSettings()
    encodings = encodings or fit_encodings(table, schema, splits, settings)
    return pd.concat(
        [_written(table, schema, splits, settings, encodings, name) for name in encodings.names()],
        ignore_index=True,
    )


def _written(
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    splits: pd.DataFrame,
    settings: SerializationSettings,
    encodings: Encodings,
    name: str,
) -> pd.DataFrame:
    """``serialize``'s rows of the encoding ``name``."""
    task = task_of(schema)
    features = list(schema["features"])
    values = list(table[features].itertuples(index=False, name=None))
    targets = table[schema["target"]].to_numpy()
    written: dict[tuple[int, int], tuple[str, str]] = {}
    for repeat, row in zip(splits["repeat"], splits["row"], strict=True):
        if (repeat, row) in written:
            continue
        encoding = encodings.of(int(repeat), name)
        target = encoding.write_target(targets[row]) if task == "regression" else targets[row]
        written[repeat, row] = (
            prompt_for(
                [encoding.write(c, v) for c, v in zip(features, values[row], strict=True)],
                features,
                task,
                settings.template,
                settings.decimals,
                settings.prompt_suffix,
                schema["target"],
            ),
            completion_for(target, task, settings.target_decimals, settings.completion_suffix),
        )
    pairs = [written[key] for key in zip(splits["repeat"], splits["row"], strict=True)]
    rows = splits["row"].to_numpy()
    return pd.DataFrame(
        {
            "repeat": splits["repeat"].to_numpy(),
            "split": splits["split"].to_numpy(),
            "row": rows,
            "encoding": name,
            "prompt": [prompt for prompt, _ in pairs],
            "completion": [completion for _, completion in pairs],
            "target": targets[rows] if task == "regression" else targets[rows].astype(int),
        }
    )
