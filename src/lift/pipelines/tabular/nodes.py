"""Thin Kedro nodes shared by the classification and regression pipelines: each turns
parameters into calls of the method library and returns artifacts. ``dataset`` (keyword) is the
namespace and ``task`` the pipeline, both bound when the pipeline is built; the rest follows
from the table's schema."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from sklearn.pipeline import Pipeline as SklearnPipeline

from lift import (
    acquisition,
    adapters,
    baselines,
    language_model,
    metrics,
    preprocessing,
    reporting,
    splits,
)
from lift.acquisition import DatasetSpec
from lift.adapters import LiftSettings
from lift.errors import DatasetInputError
from lift.fine_tuning import TrainedAdapter
from lift.language_model import BaseModel
from lift.serialization import serialize as serialize_rows
from lift.tasks import task_for

logger = logging.getLogger(__name__)


def acquire(
    params: dict[str, Any], openml_cache: str, *, dataset: str, task: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Raw table and source info of a synthetic, bundled or OpenML dataset."""
    spec = DatasetSpec.from_params(dataset, params)
    return acquisition.acquire(
        dataset, spec.source, spec.target, openml_cache, task, spec.split_column
    )


def describe_file(
    raw_table: pd.DataFrame, params: dict[str, Any], *, dataset: str
) -> dict[str, Any]:
    """Source info of a raw table the user declared in the catalog."""
    spec = DatasetSpec.from_params(dataset, params)
    return acquisition.describe_file(
        dataset, spec.source, spec.target, raw_table, spec.split_column
    )


def prepare(
    raw_table: pd.DataFrame,
    source_info: dict[str, Any],
    params: dict[str, Any],
    *,
    dataset: str,
    task: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Cleaned table (raw features, the target encoded for the task) and its schema."""
    spec = DatasetSpec.from_params(dataset, params)
    return preprocessing.prepare_table(
        dataset,
        raw_table,
        source_info["target"],
        spec.drop_columns,
        spec.max_categories,
        task,
        source_info.get("split_column"),
    )


def split(
    table: pd.DataFrame, schema: dict[str, Any], split_params: dict[str, Any], *, dataset: str
) -> pd.DataFrame:
    """Train/validation/test membership of every row, per repeat."""
    split_column = schema.get("split_column")
    return splits.split_rows(
        dataset,
        table[schema["target"]],
        **split_params,
        stratify=schema.get("task", "classification") == "classification",
        given=table[split_column] if split_column else None,
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
    return language_model.prepare_base_model(**model_params).to_dict()


def lift_settings(
    lift_params: dict[str, Any], params: dict[str, Any], *, dataset: str
) -> dict[str, Any]:
    """The LIFT settings of this dataset: the task's, with the dataset's own ``lift`` keys over
    them; checked here, so that a typo stops the run before any training."""
    settings = adapters.with_overrides(lift_params, DatasetSpec.from_params(dataset, params).lift)
    try:
        LiftSettings.from_params(settings)
    except DatasetInputError as error:
        raise DatasetInputError(f"Dataset '{dataset}': {error}") from error
    return settings


def serialize(
    table: pd.DataFrame,
    schema: dict[str, Any],
    row_splits: pd.DataFrame,
    lift_params: dict[str, Any],
) -> pd.DataFrame:
    """Prompt and completion of every row, per split and repeat."""
    return serialize_rows(table, schema, row_splits, **lift_params.get("serialization", {}))


def _task(schema: dict[str, Any], settings: LiftSettings) -> Any:
    return task_for(schema, settings.completion_suffix)


def fine_tune(
    prompts: pd.DataFrame,
    schema: dict[str, Any],
    base_model: dict[str, Any],
    lift_params: dict[str, Any],
    *,
    dataset: str,
) -> dict[int, TrainedAdapter]:
    """One LoRA adapter per repeat, the epoch chosen on the validation prompts."""
    settings = LiftSettings.from_params(lift_params)
    return adapters.fine_tune(
        dataset, BaseModel.from_dict(base_model), prompts, _task(schema, settings), settings
    )


def predict_lift(
    trained: dict[int, TrainedAdapter],
    prompts: pd.DataFrame,
    schema: dict[str, Any],
    base_model: dict[str, Any],
    lift_params: dict[str, Any],
    *,
    dataset: str,
) -> pd.DataFrame:
    """Generated answers on the test prompts, read back as predictions (``valid`` says which
    answers parsed)."""
    settings = LiftSettings.from_params(lift_params)
    return adapters.predict(
        dataset,
        BaseModel.from_dict(base_model),
        trained,
        prompts,
        _task(schema, settings),
        settings,
    )


def evaluate(
    row_splits: pd.DataFrame, *predictions: pd.DataFrame, dataset: str, task: str
) -> pd.DataFrame:
    """Scores per (model, repeat) of every model's test predictions."""
    return metrics.score_predictions(
        dataset, pd.concat(predictions, ignore_index=True), row_splits, task
    )


def report(
    datasets: dict[str, dict[str, Any]], *scores: pd.DataFrame, task: str
) -> tuple[pd.DataFrame, Figure]:
    """The metrics table over all datasets (mean and std over repeats) and its plot."""
    published = {
        name: DatasetSpec.from_params(name, params).paper
        for name, params in datasets.items()
        if params is not None
    }
    summary = reporting.summarize(pd.concat(scores, ignore_index=True), published, task)
    logger.info("Metrics of %d models on %d datasets", summary["model"].nunique(), len(published))
    return summary, reporting.comparison_plot(summary)
