"""The run's report: scores averaged over repeats, a comparison plot, a printed summary and,
for one-feature synthetic functions, the extrapolation plot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # reports are files; no display is needed or assumed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lift.evaluation.metrics import METRICS, reliability  # noqa: E402


def primary_metric(summary: pd.DataFrame) -> str:
    """The metric a summary is read by: accuracy (classification) or RAE (regression)."""
    return next(m[0] for m in METRICS.values() if m[0] in summary.columns)


def summarize(
    scores: pd.DataFrame,
    task: str,
    published: Mapping[str, Mapping[str, float]] | None = None,
) -> pd.DataFrame:
    """Mean and standard deviation over repeats of every metric of ``task``, one row per
    (dataset, model).

    ``scores`` has one row per (dataset, model, repeat) as ``metrics.score_predictions`` makes.
    ``published`` maps dataset -> model -> the paper's figure for the task's primary metric
    (accuracy as a fraction, or RAE); it fills the ``paper_<metric>`` column where known. Std is
    the population std (0 for one repeat).
    """
    metrics = METRICS[task]
    grouped = scores.groupby(["dataset", "model"], sort=False)
    summary = grouped[["n_train", "n_validation", "n_test"]].mean().round().astype(int)
    for metric in metrics:
        summary[metric] = grouped[metric].mean()
        summary[f"{metric}_std"] = grouped[metric].std(ddof=0)
    summary["repeats"] = grouped["repeat"].nunique()
    if "answers" in scores:  # how LIFT's answers were produced (empty for the baselines)
        summary["answers"] = grouped["answers"].first().astype(object).fillna("")
    if "lift_status" in scores:  # whether LIFT learnt more than the prior (empty: baselines)
        summary["lift_status"] = grouped["lift_status"].agg(_status_over_repeats)
    summary = summary.reset_index()
    published = published or {}
    summary[f"paper_{metrics[0]}"] = [
        published.get(dataset, {}).get(model, np.nan)
        for dataset, model in zip(summary["dataset"], summary["model"], strict=True)
    ]
    return summary


def baselines_of(summary: pd.DataFrame) -> pd.DataFrame:
    """The baselines' rows of a summary: every model but LIFT's (``lift``, ``lift_*``) and
    the language model's in-context answers."""
    return summary[~summary["model"].astype(str).str.startswith(("lift", "in_context"))]


def best_baseline(summary: pd.DataFrame, metric: str) -> pd.Series:
    """The row of the best baseline (by its mean ``metric``: the highest accuracy, the lowest
    error) among one table's rows of a summary."""
    baselines = baselines_of(summary)
    if baselines.empty:
        raise ValueError(f"no baseline has {metric} here: the baselines did not run")
    return baselines.sort_values(metric, ascending=metric != "accuracy", kind="stable").iloc[0]


def _status_over_repeats(statuses: pd.Series) -> str:
    """``at_prior`` where every repeat's adapter learnt the prior only, ``at_prior in k of n
    repeats`` where some did, else the one status (``learnt``, or "" where unknown)."""
    statuses = statuses.fillna("").astype(str)
    at_prior = int((statuses == "at_prior").sum())
    if 0 < at_prior < len(statuses):
        return f"at_prior in {at_prior} of {len(statuses)} repeats"
    return statuses.iloc[0] if len(statuses) else ""


def at_prior_notes(summary: pd.DataFrame) -> list[str]:
    """A line per (dataset, model) of the summary whose adapters learnt the prior only
    (``lift_status``), for the end-of-run summary."""
    status = summary.get("lift_status", pd.Series("", index=summary.index))
    flagged = summary[status.fillna("").astype(str).str.startswith("at_prior")]
    return [
        f"{row.dataset}: {row.model} learnt the prior only ({row.lift_status}): on "
        "validation it was no better than one answer for every row (the majority class, the mean)"
        for row in flagged.itertuples()
    ]


def metric_table(summary: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """``metric`` (the primary one by default; accuracy in percent), datasets as rows and
    models as columns, in first-seen order."""
    metric = metric or primary_metric(summary)
    table = summary.pivot(index="dataset", columns="model", values=metric)
    table = table.loc[summary["dataset"].unique(), summary["model"].unique()]
    return (table * 100).round(2) if metric == "accuracy" else table.round(3)


def comparison_plot(summary: pd.DataFrame, metric: str | None = None) -> plt.Figure:
    """One panel per dataset: each model's ``metric`` (the primary one by default; mean +- std
    over repeats) as a bar, and the paper's published figure as a black tick where there is
    one."""
    metric = metric or primary_metric(summary)
    published = summary.get(f"paper_{metric}", pd.Series(np.nan, index=summary.index))
    datasets = list(summary["dataset"].unique())
    models = list(summary["model"].unique())
    columns = min(3, len(datasets))
    rows = int(np.ceil(len(datasets) / columns))
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(4.2 * columns, 0.32 * len(models) * rows + 1.2 * rows),
        squeeze=False,
        sharex=metric == "accuracy",
    )
    colours = plt.get_cmap("tab10")(np.arange(len(models)) % 10)
    for axis, dataset in zip(axes.flat, datasets, strict=False):
        of_dataset = summary["dataset"] == dataset
        part = summary[of_dataset].set_index("model").reindex(models)
        paper = published[of_dataset].set_axis(summary.loc[of_dataset, "model"]).reindex(models)
        positions = np.arange(len(models))
        axis.barh(positions, part[metric], xerr=part[f"{metric}_std"], color=colours, alpha=0.85)
        axis.scatter(paper, positions, marker="|", s=160, color="black", label="paper", zorder=3)
        # the value sits right of its bar and of the paper's tick, so neither hides it
        label_at = np.fmax(part[metric], paper)
        high = 1.0 if metric == "accuracy" else max(float(np.nanmax(label_at)), 1e-9)
        for position, value, x in zip(positions, part[metric], label_at, strict=True):
            if np.isfinite(value):
                axis.text(x + 0.02 * high, position, f"{value:.3f}", va="center", fontsize=7)
        axis.set_yticks(positions, models, fontsize=8)
        axis.invert_yaxis()
        axis.set_xlim(0, 1.15 * high)
        n_test, repeats = part["n_test"].dropna().iloc[0], part["repeats"].dropna().iloc[0]
        axis.set_title(f"{dataset}  (test n={n_test}, repeats={repeats})", fontsize=9)
        axis.grid(axis="x", alpha=0.3)
    for axis in list(axes.flat)[len(datasets) :]:
        axis.set_visible(False)
    label = metric.replace("_", " ") if metric == "accuracy" else metric.upper()
    better = "higher" if metric == "accuracy" else "lower"
    for axis in axes[-1]:
        axis.set_xlabel(f"{label} ({better} is better)")
    figure.suptitle(f"Test {label} per dataset (| = published in the LIFT paper)")
    figure.tight_layout()
    return figure


def extrapolation_plot(
    curves: pd.DataFrame,
    training: pd.DataFrame,
    domain: Sequence[float],
    title: str,
) -> plt.Figure:
    """Each model's predictions over the extrapolation grid against the true function.

    ``curves`` has columns ``x, model, y`` (model ``truth`` is the noiseless function);
    ``training`` has ``x, y``, the noisy training points; ``domain`` the training domain,
    shaded."""
    figure, axis = plt.subplots(figsize=(7.5, 4.2))
    axis.axvspan(*domain, color="0.92", label="training domain", zorder=0)
    axis.scatter(training["x"], training["y"], s=6, color="0.55", label="training points")
    styles = {"truth": {"color": "black", "linewidth": 2.2, "linestyle": "--"}}
    for model, curve in curves.groupby("model", sort=False):
        style = styles.get(model, {"linewidth": 1.6, "marker": "." if model == "lift" else None})
        axis.plot(curve["x"], curve["y"], label=model, **style)
    axis.set_xlabel("x1")
    axis.set_ylabel("y")
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return figure


def calibration_plot(
    predictions: pd.DataFrame,
    models: Sequence[str] | None = None,
    title: str = "Calibration of test predictions",
) -> plt.Figure:
    """Reliability diagram of ``predictions`` (``metrics.reliability``): per model, the
    accuracy of its test predictions against their confidence."""
    figure, axis = plt.subplots(figsize=(5.2, 4.6))
    reliability_diagram(axis, reliability(predictions, models), title)
    figure.tight_layout()
    return figure


def reliability_diagram(axis: plt.Axes, bins: pd.DataFrame, title: str) -> None:
    """Per model of ``bins`` (``metrics.reliability``), accuracy against confidence in its
    bins, the rows' share as marker size; the diagonal is perfect calibration."""
    axis.plot([0, 1], [0, 1], color="0.5", linestyle="--", linewidth=1, label="calibrated")
    for model, binned in bins.groupby("model", sort=False):
        axis.plot(binned["confidence"], binned["accuracy"], marker="o", label=model)
        axis.scatter(binned["confidence"], binned["accuracy"], s=600 * binned["rows"], alpha=0.25)
    axis.set_xlim(0, 1.02)
    axis.set_ylim(0, 1.02)
    axis.set_xlabel("confidence (highest class probability)")
    axis.set_ylabel("accuracy")
    axis.set_title(title, fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="upper left")
