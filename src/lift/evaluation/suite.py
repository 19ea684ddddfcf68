"""A suite of tables (``conf/realdata``'s) read as the issue of "does LIFT learn here" asks:
per table, LIFT's test score over the repeats against the best of the paper's baselines on the
same test rows, and whether it comes within a margin of it.

The input is a task's scores, one row per (dataset, model, repeat), as the pipeline saves them
(``data/08_reporting/<task>/<dataset>/scores.csv``, ``metrics.score_predictions``'s rows); the
output one row per table."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from lift.evaluation.metrics import METRICS
from lift.evaluation.reporting import best_baseline, summarize

NO_SKILL = {"classification": "majority", "regression": "mean"}
AVERAGED = "lift_averaged"  # the repeats' adapters averaged into one answer (one row)
COLUMNS = [
    "dataset",
    "metric",
    "repeats",
    "no_skill",
    "best_baseline",
    "baseline",
    "baseline_sd",
    "lift",
    "lift_sd",
    "lift_each",
    "lift_averaged",
    "lift_status",
    "paper_lift",
    "paper_lift_sd",
    "within",
    "within_averaged",
]


def against_baselines(
    scores: pd.DataFrame,
    task: str,
    margin: float,
    published: Mapping[str, Mapping[str, float]] | None = None,
    published_sd: Mapping[str, Mapping[str, float]] | None = None,
) -> pd.DataFrame:
    """One row per table of ``scores`` (``COLUMNS``): the task's primary metric (accuracy as a
    fraction, or RAE) of the no-skill model, of the best baseline (mean and standard deviation
    over the repeats; the best by its mean), of LIFT (mean, standard deviation, each repeat in
    order), of the repeats' adapters averaged where the run made it, LIFT's status over the
    repeats (``learnt``, ``at_prior``...), the paper's LIFT where ``published`` has the table
    (dataset -> model -> figure, ``published.of_task``; ``published_sd`` its spreads), and
    ``within``: LIFT's mean no further than ``margin`` behind the best baseline's (in the
    metric's own units: 0.05 is 5 points of accuracy), ``within_averaged`` the same of the
    repeats averaged (False where the run has none)."""
    metric = METRICS[task][0]
    lower = metric != "accuracy"
    summary = summarize(scores, task, published)
    rows = []
    for dataset, mine in summary.groupby("dataset", sort=False):
        models = mine.set_index("model")
        if "lift" not in models.index:
            raise ValueError(
                f"the scores of '{dataset}' have no LIFT rows: its run stopped before "
                "`predict_lift`, or LIFT was switched off; run its namespace again"
            )
        best = best_baseline(mine, metric)
        lift = models.loc["lift"]
        each = scores[(scores["dataset"] == dataset) & (scores["model"] == "lift")]
        averaged = _value(models, AVERAGED, metric)
        baseline = float(best[metric])
        paper = (published or {}).get(dataset, {}).get("lift", np.nan)
        rows.append(
            {
                "dataset": dataset,
                "metric": metric,
                "repeats": int(lift["repeats"]),
                "no_skill": _value(models, NO_SKILL[task], metric),
                "best_baseline": best["model"],
                "baseline": baseline,
                "baseline_sd": float(best[f"{metric}_std"]),
                "lift": float(lift[metric]),
                "lift_sd": float(lift[f"{metric}_std"]),
                "lift_each": each.sort_values("repeat")[metric].astype(float).tolist(),
                "lift_averaged": averaged,
                "lift_status": str(lift.get("lift_status", "") or ""),
                "paper_lift": float(paper),
                "paper_lift_sd": float((published_sd or {}).get(dataset, {}).get("lift", np.nan)),
                "within": _near(float(lift[metric]), baseline, margin, lower),
                "within_averaged": _near(averaged, baseline, margin, lower),
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def _value(models: pd.DataFrame, model: str, metric: str) -> float:
    return float(models.loc[model, metric]) if model in models.index else np.nan


def _near(value: float, baseline: float, margin: float, lower: bool) -> bool:
    """``value`` no further than ``margin`` behind ``baseline`` (NaN, not run: not near)."""
    behind = (value - baseline) if lower else (baseline - value)
    return bool(behind <= margin + 1e-9)
