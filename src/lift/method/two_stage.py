"""Two-stage fine-tuning (the paper's answer to small data): a first stage on synthetic pretext
tasks of the target's shape (``synthetic.pretext_tasks`` or ``pretext_functions``), written as
the target's rows are, taken in turn (task 1, 2, 1, 2, ...), each round continuing from the
adapter so far; the second stage fine-tunes that adapter on the target's few rows
(``learner.fine_tune``'s ``start``). A first stage on gibberish text (``gibberish_stage``)
asks how much of what fine-tuning brings is the task itself (the pretraining study)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from lift.config.errors import DatasetInputError
from lift.config.lift import LiftSettings
from lift.data.preprocessing import task_of
from lift.data.synthetic import PRETEXT, SPLIT_COLUMN, pretext_functions, pretext_tasks
from lift.data.variants import held_in_rows
from lift.method.encoding import fit_encodings
from lift.method.fine_tuning import LOSS, TrainedAdapter, train_adapter
from lift.method.language_model import BaseModel
from lift.method.learner import fine_tune, load_base, precision
from lift.method.serialization import serialize
from lift.method.tasks import Task

logger = logging.getLogger(__name__)


def pretext_table(
    dataset: str,
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    splits: pd.DataFrame,
    rows: int,
    tasks: int,
    seed: int,
) -> pd.DataFrame:
    """The pretext tasks of a table of numeric features (``schema``): classification tasks of
    its number of features and classes (``synthetic.pretext_tasks``), or planes over its
    features' ranges with its target's mean and spread, on the training and validation rows
    (``synthetic.pretext_functions``)."""
    if schema.get("categorical_features"):
        raise DatasetInputError(
            f"Dataset '{dataset}': its features {list(schema['categorical_features'])} are "
            "categorical, and the pretext tasks of two-stage fine-tuning are numeric; use a "
            "table of numeric features."
        )
    features, target = list(schema["features"]), schema["target"]
    if task_of(schema) == "classification":
        classes = len(schema["classes"])
        return pretext_tasks(dataset, features, target, classes, rows, tasks, seed)
    held_in = table.iloc[held_in_rows(splits)]
    ranges = {name: (float(held_in[name].min()), float(held_in[name].max())) for name in features}
    spread = (float(held_in[target].mean()), float(held_in[target].std()))
    return pretext_functions(ranges, target, spread, rows, tasks, seed)


def first_stage(
    dataset: str,
    base: BaseModel,
    pretext: pd.DataFrame,
    schema: Mapping[str, Any],
    task: Task,
    settings: LiftSettings,
    rounds: int,
) -> TrainedAdapter:
    """The adapter of the first stage: the tasks of ``pretext`` (``pretext_table``) in turn for
    ``rounds`` rounds, each fine-tuned with ``settings`` (its epochs, learning rate, the
    epoch kept on its validation rows) from the adapter so far, written as the target is."""
    stage = settings.overridden({"selection": {"learning_rate": [], "epochs": [], "encoding": []}})
    prompts = []
    for number, rows in pretext.groupby(PRETEXT, sort=True):
        rows = rows.reset_index(drop=True)
        splits = pd.DataFrame(
            {"row": np.arange(len(rows)), "repeat": 0, "split": rows[SPLIT_COLUMN].to_numpy()}
        )
        features = rows.drop(columns=[PRETEXT, SPLIT_COLUMN])
        encodings = fit_encodings(features, schema, splits, stage.serialization, stage.encodings())
        written = serialize(features, schema, splits, stage.serialization, encodings, dataset)
        prompts.append((int(number), written, encodings))
    adapter = None
    for round_ in range(1, int(rounds) + 1):
        for number, written, encodings in prompts:
            name = f"{dataset} pretext {number + 1} (round {round_} of {rounds})"
            adapter = fine_tune(name, base, written, task, stage, encodings, adapter)[0]
    assert adapter is not None
    logger.info("LIFT %s: first stage on %d pretext tasks done", dataset, len(prompts))
    return adapter


def gibberish_stage(
    dataset: str, base: BaseModel, text: pd.DataFrame, settings: LiftSettings
) -> TrainedAdapter:
    """The adapter fine-tuned on gibberish ``text`` (``synthetic.gibberish``: prompt,
    completion, split) with ``settings`` (the table's LoRA shape, the first stage's epochs),
    the epoch of lowest validation loss kept: there is no answer to score."""
    train, validation = (text[text[SPLIT_COLUMN] == split] for split in ("train", "validation"))
    model, tokenizer = load_base(base, settings)
    with precision(settings):
        adapter = train_adapter(
            model,
            tokenizer,
            (train["prompt"].tolist(), train["completion"].tolist()),
            (validation["prompt"].tolist(), validation["completion"].tolist()),
            lambda _: {},
            settings.lora,
            settings.training,
            select_on=LOSS,
            description=f"{dataset} gibberish",
        )
    logger.info(
        "LIFT %s: first stage on gibberish done (epoch %d kept, validation loss %.4f)",
        dataset,
        adapter.best_epoch,
        adapter.kept["validation_loss"],
    )
    return adapter
