"""In-context learning, the paper's alternative to fine-tuning: the unchanged base model reads
labelled rows as demonstrations before each test prompt and answers it, by scoring each class's
completion and by generating text.

Demonstrations are a repeat's training prompts with their completions, one per line, in a
seeded class-balanced order (round robin over the classes, each shuffled), as many as fit the
model's context beside the longest test prompt and its answer; how many did is recorded with
every answer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lift.config.errors import DatasetInputError
from lift.config.lift import LiftSettings
from lift.data.splits import of_split
from lift.data.variants import balanced_order
from lift.method.encoding import Encodings
from lift.method.language_model import BaseModel
from lift.method.learner import (
    answer,
    answer_budget,
    for_repeat,
    load_base,
    precision,
    prediction_rows,
)
from lift.method.tasks import Classification, Task

logger = logging.getLogger(__name__)

# the model names of in-context answers: scored classes, and generated text read back
IN_CONTEXT, IN_CONTEXT_GENERATED = "in_context", "in_context_generated"


def demonstrations(
    dataset: str,
    train: pd.DataFrame,
    queries: Sequence[str],
    tokenizer: Any,
    context: int,
    answer_tokens: int,
    seed: int = 0,
) -> tuple[str, int]:
    """The demonstrations written before every query: the training prompts (``train``:
    ``prompt, completion, target``) with their completions, one per line, in a class-balanced
    order (``balanced_order``), as many as fit ``context`` tokens with the longest of
    ``queries`` and ``answer_tokens`` after them, and how many. None fitting raises
    ``DatasetInputError``."""
    order = balanced_order(train["target"].to_numpy(), seed)
    lines = [f"{train['prompt'].iloc[i]}{train['completion'].iloc[i]}\n" for i in order]
    longest = max(len(ids) for ids in tokenizer(list(queries)).input_ids)
    room = int(context) - longest - int(answer_tokens)
    lengths = np.cumsum([len(ids) for ids in tokenizer(lines, add_special_tokens=False).input_ids])
    fitting = int(np.searchsorted(lengths, room, side="right"))
    if fitting == 0:
        raise DatasetInputError(
            f"Dataset '{dataset}': not one demonstration fits the model's context of {context} "
            f"tokens beside the longest test prompt ({longest} tokens); use a model with a "
            "longer context or shorter prompts."
        )
    if fitting < len(lines):
        logger.warning(
            "In-context %s: %d of %d demonstrations fit the model's context of %d tokens.",
            dataset,
            fitting,
            len(lines),
            context,
        )
    return "".join(lines[:fitting]), fitting


def predict_in_context(
    dataset: str,
    base: BaseModel,
    prompts: pd.DataFrame,
    task: Task,
    settings: LiftSettings,
    encodings: Encodings | None = None,
    context: int | None = None,
) -> pd.DataFrame:
    """The base model's test answers per repeat with that repeat's training prompts as
    demonstrations (``demonstrations``, seeded with ``training.seed`` + repeat; ``context``:
    tokens, the model's own when None), scored (model ``in_context``, classes only) and
    generated (``in_context_generated``; numbers read with ``encodings``): the columns of
    ``learner.predict`` and ``demonstrations``, how many were written before each
    prompt."""
    scoring = settings.overridden({"generation": {"mode": "score", "samples": 1}})
    generating = settings.overridden({"generation": {"mode": "generate", "samples": 1}})
    model, tokenizer = load_base(base, settings)
    window = int(context or model.config.max_position_embeddings)
    ways = [(IN_CONTEXT_GENERATED, generating)]
    if isinstance(task, Classification):
        ways.insert(0, (IN_CONTEXT, scoring))
    parts = []
    with precision(settings):
        for repeat in sorted(prompts["repeat"].unique()):
            train, test = of_split(prompts, repeat, "train"), of_split(prompts, repeat, "test")
            budget = answer_budget(tokenizer, train["completion"], task, generating)
            shown, count = demonstrations(
                dataset,
                train,
                test["prompt"],
                tokenizer,
                window,
                budget,
                settings.training.seed + int(repeat),
            )
            reading = for_repeat(task, encodings, repeat)
            for name, how in ways:
                answers = answer(
                    model,
                    tokenizer,
                    test["prompt"],
                    train["completion"],
                    reading,
                    train["target"].to_numpy(),
                    how,
                    f"{dataset} repeat {repeat}: in context ({how.generation.mode})",
                    prefix=shown,  # the same demonstrations before every prompt: read once
                )
                answered_by = how.generation.answered_by()
                rows = prediction_rows(name, test, int(repeat), answers, answered_by)
                parts.append(rows.assign(demonstrations=count))
            logger.info("In-context %s repeat %d: %d demonstrations", dataset, repeat, count)
    return pd.concat(parts, ignore_index=True)
