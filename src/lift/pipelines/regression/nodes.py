"""Thin Kedro nodes of the regression pipeline's own steps: how LIFT and two baselines
extrapolate a one-feature synthetic function beyond the domain they were trained on. The
shared steps are in ``pipelines/tabular/nodes.py``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.pipeline import Pipeline as SklearnPipeline

from lift.config.errors import DatasetInputError
from lift.data import synthetic
from lift.data.entry import DatasetEntry
from lift.data.splits import rows_of
from lift.data.synthetic import ExtrapolationSettings
from lift.evaluation import reporting
from lift.method import learner
from lift.method.encoding import Encodings
from lift.method.fine_tuning import TrainedAdapter
from lift.method.language_model import BaseModel
from lift.method.tasks import task_for


def extrapolation_grid(settings: DatasetEntry, extrapolation: dict[str, Any]) -> pd.DataFrame:
    """The dataset's function, noiseless, on the extrapolation grid: ``x1, y``."""
    grid = ExtrapolationSettings.from_params(extrapolation)
    source = settings.source
    return synthetic.function_grid(
        source.name,
        grid.low,
        grid.high,
        grid.points,
        integer=bool(source.options.get("integer", False)),
    )


def extrapolate(
    grid: pd.DataFrame,
    schema: dict[str, Any],
    prompts: pd.DataFrame,
    trained: dict[int, TrainedAdapter],
    baseline_models: dict[int, dict[str, SklearnPipeline]],
    base_model: dict[str, Any],
    encoding: Encodings,
    settings: DatasetEntry,
    extrapolation: dict[str, Any],
) -> pd.DataFrame:
    """The first repeat's LIFT adapter and chosen baselines on the grid, with the truth:
    ``x, model, y, valid`` (``valid`` is False where LIFT's answer did not parse)."""
    dataset, lift = settings.name, settings.lift
    repeat = min(trained)
    chosen = ExtrapolationSettings.from_params(extrapolation).baselines
    missing = [name for name in chosen if name not in baseline_models[repeat]]
    if missing:
        raise DatasetInputError(
            f"Dataset '{dataset}': parameter `regression.extrapolation.baselines` names "
            f"{missing}, which are not among the fitted baselines "
            f"{sorted(baseline_models[repeat])}; add them to `regression.baselines.models`."
        )
    answers = learner.answer_rows(
        dataset,
        BaseModel.from_dict(base_model),
        trained[repeat],
        repeat,
        grid,
        schema,
        prompts,
        task_for(schema, lift.serialization),
        lift,
        encoding,
        description="extrapolate",
    )
    x, valid = grid["x1"].to_numpy(), answers.valid
    curves = {"truth": grid[schema["target"]].to_numpy(), "lift": answers.predictions}
    for name in chosen:
        curves[name] = baseline_models[repeat][name].predict(grid[schema["features"]])
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "x": x,
                    "model": model,
                    "y": values,
                    "valid": valid if model == "lift" else np.ones(len(x), dtype=bool),
                }
            )
            for model, values in curves.items()
        ],
        ignore_index=True,
    )


def plot_extrapolation(
    curves: pd.DataFrame,
    table: pd.DataFrame,
    schema: dict[str, Any],
    row_splits: pd.DataFrame,
    settings: DatasetEntry,
) -> Figure:
    """The extrapolation curves against the truth, with the first repeat's training points."""
    train_rows = rows_of(row_splits, row_splits["repeat"].min(), "train")
    training = pd.DataFrame(
        {
            "x": table["x1"].to_numpy()[train_rows],
            "y": table[schema["target"]].to_numpy()[train_rows],
        }
    )
    invalid = int((~curves.loc[curves["model"] == "lift", "valid"]).sum())
    title = (
        f"{settings.name}: {settings.source.name} function, trained on [{training['x'].min():.0f}, "
        f"{training['x'].max():.0f}]"
        + (f"; {invalid} LIFT answers invalid (training mean shown)" if invalid else "")
    )
    return reporting.extrapolation_plot(
        curves, training, (training["x"].min(), training["x"].max()), title
    )
