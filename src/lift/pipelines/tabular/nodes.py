"""Thin Kedro nodes shared by the classification and regression pipelines: each turns its
inputs into calls of the method library and returns artifacts. A dataset's configuration
reaches its nodes as one validated object, its ``settings`` artifact (``DatasetEntry``); the
rest follows from the table's schema."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from sklearn.pipeline import Pipeline as SklearnPipeline

from lift.config.lift import GroupingSettings, ModelSettings
from lift.data import acquisition, preprocessing, splits
from lift.data.entry import DatasetEntry
from lift.evaluation import baselines, metrics, reporting
from lift.method import language_model, learner
from lift.method.encoding import Encodings, fit_encodings
from lift.method.fine_tuning import TrainedAdapter
from lift.method.language_model import BaseModel
from lift.method.serialization import serialize as serialize_rows
from lift.method.tasks import task_for

logger = logging.getLogger(__name__)


def configure(
    params: dict[str, Any],
    lift_params: dict[str, Any],
    *,
    dataset: str,
    task: str,
    overrides: Mapping[str, Any] | None = None,
) -> DatasetEntry:
    """The dataset's settings: its parameters, with the task's LIFT settings under its own
    ``lift`` keys (and a study's ``overrides`` over both), validated (the pipeline checked
    them already when it was built)."""
    return DatasetEntry.from_params(task, dataset, params, lift_params, overrides)


def acquire(settings: DatasetEntry, openml_cache: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Raw table and source info of a synthetic, bundled or OpenML dataset."""
    return acquisition.acquire(
        settings.name,
        settings.source,
        settings.task,
        settings.target,
        openml_cache,
        settings.split_column,
    )


def describe_file(raw_table: pd.DataFrame, settings: DatasetEntry) -> dict[str, Any]:
    """Source info of a raw table the user declared in the catalog."""
    return acquisition.describe_file(
        settings.name, settings.source, settings.target, raw_table, settings.split_column
    )


def prepare(
    raw_table: pd.DataFrame, source_info: dict[str, Any], settings: DatasetEntry
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Cleaned table (raw features, the target encoded for the task) and its schema."""
    return preprocessing.prepare_table(
        settings.name,
        raw_table,
        source_info["target"],
        settings.task,
        settings.drop_columns,
        settings.max_categories,
        source_info.get("split_column"),
        settings.sample,
        settings.sample_seed,
    )


def split(
    table: pd.DataFrame, schema: dict[str, Any], split_params: dict[str, Any], *, dataset: str
) -> pd.DataFrame:
    """Train/validation/test membership of every row, per repeat."""
    split_column = schema["split_column"]
    return splits.split_rows(
        dataset,
        table[schema["target"]],
        **split_params,
        stratify=preprocessing.task_of(schema) == "classification",
        given=table[split_column] if split_column else None,
        class_names=schema.get("classes"),
    )


def fit_baselines(
    table: pd.DataFrame,
    schema: dict[str, Any],
    row_splits: pd.DataFrame,
    baseline_params: dict[str, Any],
    *,
    dataset: str,
) -> dict[int, dict[str, SklearnPipeline]]:
    """The paper's baselines, tuned and fitted per repeat."""
    options = {k: v for k, v in baseline_params.items() if k != "models"}
    return baselines.fit_baselines(
        dataset, table, schema, row_splits, baseline_params["models"], **options
    )


def prepare_base_model(model_params: dict[str, Any]) -> dict[str, Any]:
    """The base model of the run, converted once to safetensors if it is the embedded one."""
    return language_model.prepare_base_model(ModelSettings.from_params(model_params)).to_dict()


def fit_encoding(
    table: pd.DataFrame, schema: dict[str, Any], row_splits: pd.DataFrame, settings: DatasetEntry
) -> Encodings:
    """How numbers are written in the prompts, fitted on each repeat's training rows (each
    encoding a selection chooses from)."""
    lift = settings.lift
    return fit_encodings(table, schema, row_splits, lift.serialization, lift.encodings())


def serialize(
    table: pd.DataFrame,
    schema: dict[str, Any],
    row_splits: pd.DataFrame,
    encoding: Encodings,
    settings: DatasetEntry,
) -> pd.DataFrame:
    """Prompt and completion of every row, per split and repeat."""
    return serialize_rows(
        table, schema, row_splits, settings.lift.serialization, encoding, settings.name
    )


def fine_tune(
    prompts: pd.DataFrame,
    schema: dict[str, Any],
    base_model: dict[str, Any],
    encoding: Encodings,
    settings: DatasetEntry,
    first_stage: dict[int, TrainedAdapter] | None = None,
) -> dict[int, TrainedAdapter]:
    """One LoRA adapter per repeat, the epoch chosen on the validation prompts (from the
    adapter of a ``first_stage`` where given)."""
    lift = settings.lift
    return learner.fine_tune(
        settings.name,
        BaseModel.from_dict(base_model),
        prompts,
        task_for(schema, lift.serialization),
        lift,
        encoding,
        start=first_stage[0] if first_stage else None,
    )


def fine_tune_together(
    base_model: dict[str, Any], grouping: dict[str, Any], *per_dataset: Any
) -> list[dict[int, TrainedAdapter]]:
    """``fine_tune`` of every dataset at once (``grouping``: the task's ``fine_tuning``
    parameters): ``per_dataset`` is each dataset's prompts, schema, encoding and settings in
    turn; returns each dataset's adapters, in that order."""
    requests = []
    for prompts, schema, encoding, settings in zip(*[iter(per_dataset)] * 4, strict=True):
        lift = settings.lift
        task = task_for(schema, lift.serialization)
        requests.append(learner.FineTuning(settings.name, prompts, task, lift, encoding))
    grouping = GroupingSettings.parsed(grouping, "fine_tuning")
    return learner.fine_tune_together(
        BaseModel.from_dict(base_model), requests, grouping.slots, grouping.devices
    )


def predict_lift(
    trained: dict[int, TrainedAdapter],
    prompts: pd.DataFrame,
    schema: dict[str, Any],
    base_model: dict[str, Any],
    encoding: Encodings,
    settings: DatasetEntry,
) -> pd.DataFrame:
    """The model's answers on the test prompts, read back as predictions (``valid`` says
    which answers parsed)."""
    lift = settings.lift
    return learner.predict(
        settings.name,
        BaseModel.from_dict(base_model),
        trained,
        prompts,
        task_for(schema, lift.serialization),
        lift,
        encoding,
    )


def evaluate(
    row_splits: pd.DataFrame, *predictions: pd.DataFrame, dataset: str, task: str
) -> pd.DataFrame:
    """Scores per (model, repeat) of every model's test predictions."""
    return metrics.score_predictions(
        dataset, pd.concat(predictions, ignore_index=True), row_splits, task
    )


def report(
    *scores: pd.DataFrame, task: str, published: dict[str, dict[str, float]]
) -> tuple[pd.DataFrame, Figure]:
    """The metrics table over all datasets (mean and std over repeats, the paper's
    ``published`` figures beside them) and its plot, from every dataset's scores."""
    summary = reporting.summarize(pd.concat(scores, ignore_index=True), task, published)
    logger.info("Metrics of %d models on %d datasets", summary["model"].nunique(), len(scores))
    return summary, reporting.comparison_plot(summary)
