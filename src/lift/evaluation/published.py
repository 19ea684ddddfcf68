"""What the LIFT paper published (Dinh et al., NeurIPS 2022, arXiv:2206.06565): the one place
its numbers are written, ``published.csv`` beside this module, from which every ``paper_*``
column, figure tick and comparison is read.

One row per number: the ``pipeline`` that reproduces it (``classification``, ``regression``
or a study), the ``dataset`` as this project names it, the study's ``variant`` (empty for the
main tables), the ``model`` (a baseline's name, ``lift``, or a study's own method), the
``metric`` (accuracy as a fraction, RAE, RMSE), its ``mean``, the ``spread`` where the paper
gives one (± one standard deviation over its repeats), the ``language_model`` of a LIFT
figure (the paper's 6B GPT-J or GPT-3; this project's default is a 135M model), and the
``source`` (the table or figure; "read off" where the value was read from a plot)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

import pandas as pd

COLUMNS = (
    "pipeline",
    "dataset",
    "variant",
    "model",
    "metric",
    "mean",
    "spread",
    "language_model",
    "source",
)
TaskFigures = dict[str, dict[str, float]]  # dataset -> model -> figure
StudyFigures = dict[str, dict[str, dict[str, float]]]  # dataset -> variant -> model -> figure


@cache
def _read() -> pd.DataFrame:
    with files("lift.evaluation").joinpath("published.csv").open() as handle:
        table = pd.read_csv(handle, dtype={"variant": str}, keep_default_na=False)
    table["spread"] = pd.to_numeric(table["spread"].replace("", None))
    return table


def numbers() -> pd.DataFrame:
    """Every published number (the columns of ``COLUMNS``), a copy."""
    return _read().copy()


def of_task(task: str, spread: bool = False) -> TaskFigures:
    """The main tables' figures of ``task`` (``classification`` or ``regression``); with
    ``spread``, their ± (NaN where the paper gave none) instead."""
    figures: TaskFigures = {}
    for row in _read().query("pipeline == @task").itertuples():
        figures.setdefault(row.dataset, {})[row.model] = float(row.spread if spread else row.mean)
    return figures


def of_study(study: str) -> StudyFigures:
    """The figures of ``study`` (its pipeline's name)."""
    figures: StudyFigures = {}
    for row in _read().query("pipeline == @study").itertuples():
        variants = figures.setdefault(row.dataset, {})
        variants.setdefault(row.variant, {})[row.model] = float(row.mean)
    return figures
