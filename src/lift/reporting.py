"""The run's report: scores averaged over repeats, a comparison plot and a printed summary."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # reports are files; no display is needed or assumed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lift.metrics import CLASSIFICATION_METRICS  # noqa: E402


def summarize(
    scores: pd.DataFrame, published: Mapping[str, Mapping[str, float]] | None = None
) -> pd.DataFrame:
    """Mean and standard deviation over repeats of every metric, one row per (dataset, model).

    ``scores`` has one row per (dataset, model, repeat) as ``metrics.score_predictions`` makes.
    ``published`` maps dataset -> model -> the paper's accuracy (a fraction); it fills the
    ``paper_accuracy`` column where known. Std is the population std (0 for one repeat).
    """
    grouped = scores.groupby(["dataset", "model"], sort=False)
    summary = grouped[["n_train", "n_validation", "n_test"]].mean().round().astype(int)
    for metric in CLASSIFICATION_METRICS:
        summary[metric] = grouped[metric].mean()
        summary[f"{metric}_std"] = grouped[metric].std(ddof=0)
    summary["repeats"] = grouped["repeat"].nunique()
    summary = summary.reset_index()
    published = published or {}
    summary["paper_accuracy"] = [
        published.get(dataset, {}).get(model, np.nan)
        for dataset, model in zip(summary["dataset"], summary["model"], strict=True)
    ]
    return summary


def accuracy_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Accuracy in percent, datasets as rows and models as columns, in first-seen order."""
    table = summary.pivot(index="dataset", columns="model", values="accuracy") * 100
    return table.loc[summary["dataset"].unique(), summary["model"].unique()].round(2)


def comparison_plot(summary: pd.DataFrame, metric: str = "accuracy") -> plt.Figure:
    """One panel per dataset: each model's ``metric`` (mean +- std over repeats) as a bar, and
    the paper's published accuracy as a black tick where there is one."""
    datasets = list(summary["dataset"].unique())
    models = list(summary["model"].unique())
    columns = min(3, len(datasets))
    rows = int(np.ceil(len(datasets) / columns))
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(4.2 * columns, 0.32 * len(models) * rows + 1.2 * rows),
        squeeze=False,
        sharex=True,
    )
    colours = plt.get_cmap("tab10")(np.arange(len(models)) % 10)
    for axis, dataset in zip(axes.flat, datasets, strict=False):
        part = summary[summary["dataset"] == dataset].set_index("model").reindex(models)
        positions = np.arange(len(models))
        axis.barh(positions, part[metric], xerr=part[f"{metric}_std"], color=colours, alpha=0.85)
        if metric == "accuracy":
            axis.scatter(
                part["paper_accuracy"],
                positions,
                marker="|",
                s=160,
                color="black",
                label="paper",
                zorder=3,
            )
        # the value sits right of its bar and of the paper's tick, so neither hides it
        label_at = (
            np.fmax(part[metric], part["paper_accuracy"]) if metric == "accuracy" else part[metric]
        )
        for position, value, x in zip(positions, part[metric], label_at, strict=True):
            if np.isfinite(value):
                axis.text(x + 0.02, position, f"{value:.3f}", va="center", fontsize=7)
        axis.set_yticks(positions, models, fontsize=8)
        axis.invert_yaxis()
        axis.set_xlim(0, 1.15)
        n_test, repeats = part["n_test"].dropna().iloc[0], part["repeats"].dropna().iloc[0]
        axis.set_title(f"{dataset}  (test n={n_test}, repeats={repeats})", fontsize=9)
        axis.grid(axis="x", alpha=0.3)
    for axis in list(axes.flat)[len(datasets) :]:
        axis.set_visible(False)
    for axis in axes[-1]:
        axis.set_xlabel(metric.replace("_", " "))
    figure.suptitle(
        f"Test {metric.replace('_', ' ')} per dataset (| = published in the LIFT paper)"
    )
    figure.tight_layout()
    return figure
