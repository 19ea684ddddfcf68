"""The studies' figures (``lift.studies.designs``): a metric across the variants of each table, the
agreement of every model with every teacher, and every model's decision regions on a grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # reports are files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lift.evaluation.metrics import METRICS  # noqa: E402
from lift.evaluation.reporting import reliability_diagram  # noqa: E402

LIFT_MODELS = ("lift", "lift_scored", "lift_corrected", "lift_averaged")
IN_CONTEXT_MODELS = ("in_context", "in_context_generated")
NO_SKILL = ("majority", "mean")
NAMES = {
    "accuracy": "accuracy (%)",
    "balanced_accuracy": "balanced accuracy (%)",
    "f1_macro": "macro F1 (%)",
    "rae": "RAE (lower is better)",
    "rmse": "RMSE (lower is better)",
}

TITLES: dict[str, str] = {
    "sample_complexity": "Test score against the training rows kept",
    "label_noise": "Test accuracy against the share of corrupted training labels",
    "class_imbalance": "Test scores against the minority : majority ratio of the training rows",
    "inductive_bias": "Which learner does each model imitate? Agreement with each teacher",
    "decision_boundaries": "Decision regions on a grid over each table",
    "feature_names": "Test score by how the rows are written: with or without the columns' names",
    "pretraining": "Test score from the pretrained weights, random ones, and after gibberish text",
    "in_context": "Shown in the prompt or fine-tuned on: test accuracy of the same rows learnt "
    "two ways",
    "two_stage": "Few rows: fine-tuned from the pretrained model, and after a first stage on "
    "synthetic pretext tasks",
    "image_robustness": "Test accuracy on perturbed test images: Gaussian noise, and FGSM "
    "transferred from a small network",
    "uncertainty": "What sampled answers say: their spread against the noise in the targets, "
    "and the calibration of sampled votes",
}


def figure_of(study: str, results: pd.DataFrame, compared: Mapping[str, str]) -> Figure:
    """The figure of ``study`` from its results (``studies.study_results``; ``compared``: the
    metric of each task that is drawn against the paper's, where one is drawn)."""
    title = TITLES[study]
    if study == "inductive_bias":
        return agreement_figure(results, title)
    if study == "in_context":
        return in_context_figure(results, title)
    if study == "two_stage":
        return two_stage_figure(results, compared, title)
    if study == "class_imbalance":
        return variant_figure(results, title, ["accuracy", "balanced_accuracy", "f1_macro"])
    return variant_figure(results, title, rows_per_label=study == "sample_complexity")


def _style(model: str, colour: object) -> dict[str, object]:
    """LIFT black and thick (scored: dash-dotted, corrected: dashed, repeats averaged:
    dotted), the no-skill baseline grey and dotted."""
    if model == "lift":
        return {"color": "black", "linewidth": 2.4, "marker": "o", "zorder": 4}
    if model == "lift_scored":
        return {"color": "black", "linewidth": 1.6, "linestyle": "-.", "marker": "o", "zorder": 4}
    if model == "lift_corrected":
        return {"color": "black", "linewidth": 1.6, "linestyle": "--", "marker": "o", "zorder": 4}
    if model == "lift_averaged":
        return {"color": "black", "linewidth": 1.6, "linestyle": ":", "marker": "s", "zorder": 4}
    if model in NO_SKILL:
        return {"color": "0.5", "linewidth": 1.2, "linestyle": ":"}
    return {"color": colour, "linewidth": 1.1, "marker": ".", "alpha": 0.85}


def _scale(metric: str) -> float:
    return 1.0 if metric in METRICS["regression"] else 100.0


def _panels(results: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(task, dataset, facet) of every panel: a facet-less variant (the clean labels) is
    drawn in every facet's panel."""
    facets = [f for f in dict.fromkeys(results["facet"]) if f]
    tables = results[["task", "dataset"]].drop_duplicates().itertuples(index=False)
    return [(task, dataset, facet) for task, dataset in tables for facet in facets or [""]]


def _panel_rows(
    results: pd.DataFrame, task: str, dataset: str, facet: str
) -> tuple[pd.DataFrame, list[str]]:
    """The results a panel draws (a facet-less variant in every facet's) and its variants in
    figure order."""
    rows = results[
        (results["task"] == task)
        & (results["dataset"] == dataset)
        & results["facet"].isin(["", facet])
    ]
    return rows, _ordered(rows)


def _colours(results: pd.DataFrame) -> dict[str, object]:
    """A colour per model, in the order the results name them."""
    models = list(dict.fromkeys(results["model"]))
    return dict(zip(models, plt.get_cmap("tab10")(np.arange(len(models)) % 10), strict=True))


def _ordered(rows: pd.DataFrame) -> list[str]:
    """The variants of a panel in figure order: by level where levels are numbers."""
    first = rows.drop_duplicates("variant")
    levels = pd.to_numeric(first["level"], errors="coerce")
    if levels.notna().all():
        first = first.assign(order=levels.to_numpy()).sort_values("order", kind="stable")
    return list(first["variant"])


def _variant_lines(
    axis: plt.Axes,
    rows: pd.DataFrame,
    metric: str,
    order: Sequence[str],
    colours: Mapping[str, object],
) -> None:
    """Every model's test ``metric`` across the variants in ``order`` (mean over repeats, the
    std as a bar), LIFT in black; the paper's figures as crosses in the model's colour."""
    scale = _scale(metric)
    grouped = rows.groupby(["model", "variant"])[metric]
    mean, std = grouped.mean() * scale, grouped.std(ddof=0).fillna(0) * scale
    x = np.arange(len(order))
    for model in colours:
        if model not in mean.index.get_level_values(0):
            continue
        style = _style(model, colours[model])
        axis.errorbar(
            x,
            mean[model].reindex(order),
            yerr=std[model].reindex(order),
            label=model,
            capsize=2,
            **style,
        )
        paper = f"paper_{metric}"
        if paper in rows:
            published = rows[rows["model"] == model].groupby("variant")[paper].first()
            published = published.reindex(order) * scale
            if published.notna().any():
                axis.scatter(x, published, marker="x", s=40, color=style["color"], zorder=5)
    axis.set_ylabel(NAMES.get(metric, metric), fontsize=9)
    axis.grid(alpha=0.3)


def _legend(figure: Figure, axes: Sequence[plt.Axes], results: pd.DataFrame) -> dict[str, object]:
    """One legend under the panels for every model drawn (and the paper's crosses)."""
    handles: dict[str, object] = {}
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    if any(f"paper_{m}" in results and results[f"paper_{m}"].notna().any() for m in METRICS):
        handles["paper (x)"] = plt.Line2D([], [], marker="x", color="black", linestyle="")
    figure.legend(
        handles.values(), handles.keys(), loc="lower center", ncol=min(6, len(handles)), fontsize=8
    )
    return handles


def variant_figure(
    results: pd.DataFrame,
    title: str,
    metrics: Sequence[str] | None = None,
    rows_per_label: bool = False,
) -> Figure:
    """One panel per (table, facet) and metric: every model's test metric (mean over repeats,
    the std as a bar) across the variants, LIFT in black; the paper's figures as crosses in
    the model's colour. ``metrics`` default to each task's primary one; ``rows_per_label``
    adds the mean training rows to each variant's label (sample complexity)."""
    panels = _panels(results)
    metrics = list(metrics or [])
    colours = _colours(results)
    n_rows = max(1, len(metrics))
    figure, axes = plt.subplots(
        n_rows, len(panels), figsize=(4.6 * len(panels), 3.4 * n_rows), squeeze=False
    )
    for column, (task, dataset, facet) in enumerate(panels):
        rows, order = _panel_rows(results, task, dataset, facet)
        labels = rows.drop_duplicates("variant").set_index("variant").reindex(order)
        ticks = list(labels["label"])
        if rows_per_label:
            n_train = rows.groupby("variant")["n_train"].mean().reindex(order)
            ticks = [f"{t}\nn={n:.0f}" for t, n in zip(ticks, n_train, strict=True)]
        for r, metric in enumerate(metrics or [METRICS[task][0]]):
            axis = axes[r, column]
            _variant_lines(axis, rows, metric, order, colours)
            axis.set_xticks(np.arange(len(order)), ticks, fontsize=8)
            if r == 0:
                axis.set_title(f"{dataset}" + (f" ({facet})" if facet else ""), fontsize=10)
    handles = _legend(figure, axes.flat, results)
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.04 + 0.035 * (len(handles) // 6), 1, 1))
    return figure


def agreement_figure(results: pd.DataFrame, title: str) -> Figure:
    """One heatmap per table: every model (rows) against every teacher (columns), the cell
    its test accuracy on the teacher's labels, that is its agreement with the teacher (%)."""
    tables = list(results["dataset"].drop_duplicates())
    models = list(dict.fromkeys(results["model"]))
    figure, axes = plt.subplots(
        1,
        len(tables),
        figsize=(len(tables) * (3.2 + 0.6 * results["variant"].nunique()), 0.4 * len(models) + 2),
        squeeze=False,
    )
    for axis, dataset in zip(axes.flat, tables, strict=True):
        rows = results[results["dataset"] == dataset]
        teachers = list(dict.fromkeys(rows["variant"]))
        labels = rows.drop_duplicates("variant").set_index("variant")["label"].reindex(teachers)
        table = rows.groupby(["model", "variant"])["accuracy"].mean().unstack()
        table = table.reindex(index=models, columns=teachers) * 100
        image = axis.imshow(table.to_numpy(), cmap="viridis", vmin=50, vmax=100, aspect="auto")
        for (i, j), value in np.ndenumerate(table.to_numpy()):
            if np.isfinite(value):
                colour = "black" if value > 80 else "white"
                weight = "bold" if models[i] in LIFT_MODELS else "normal"
                axis.text(j, i, f"{value:.0f}", ha="center", va="center", color=colour,
                          fontsize=8, fontweight=weight)  # fmt: skip
        axis.set_xticks(np.arange(len(teachers)), list(labels), rotation=40, ha="right", fontsize=8)
        axis.set_yticks(np.arange(len(models)), models, fontsize=8)
        axis.set_xlabel("teacher (whose labels the model learned)")
        axis.set_title(dataset, fontsize=10)
        figure.colorbar(image, ax=axis, label="agreement on test rows (%)", shrink=0.8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def boundary_figure(
    grid: pd.DataFrame, points: pd.DataFrame, title: str = TITLES["decision_boundaries"]
) -> Figure:
    """A panel per (table, model): the class the model answers over the grid (``grid``:
    ``dataset, model, x, y, y_pred``; -1, an invalid answer, in white) and the table's
    training points on top (``points``: ``dataset, x, y, label``); the first panel of each
    table shows the training points alone."""
    tables = list(dict.fromkeys(grid["dataset"]))
    models = list(dict.fromkeys(grid["model"]))
    figure, axes = plt.subplots(
        len(tables), len(models) + 1, figsize=(2.3 * (len(models) + 1), 2.4 * len(tables)),
        squeeze=False,
    )  # fmt: skip
    for r, dataset in enumerate(tables):
        mine, seen = grid[grid["dataset"] == dataset], points[points["dataset"] == dataset]
        classes = int(max(mine["y_pred"].max(), seen["label"].max())) + 1
        colours = plt.get_cmap("tab10")(np.arange(classes) % 10)
        regions = ListedColormap([(1, 1, 1, 1), *[(*c[:3], 0.35) for c in colours]])
        for c, model in enumerate(["points", *models]):
            axis = axes[r, c]
            if model != "points":
                cell = mine[mine["model"] == model].pivot(index="y", columns="x", values="y_pred")
                axis.pcolormesh(cell.columns, cell.index, cell.to_numpy() + 1, cmap=regions,
                                vmin=0, vmax=classes, shading="nearest")  # fmt: skip
            axis.scatter(seen["x"], seen["y"], c=colours[seen["label"].to_numpy()], s=5,
                         edgecolors="none")  # fmt: skip
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title("training points" if model == "points" else model, fontsize=9)
            if c == 0:
                axis.set_ylabel(dataset, fontsize=9)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


# LIFT's ways of answering in the uncertainty study: how the figure names them (`lift` is the
# median of sampled numbers, or the vote of sampled classes)
ANSWERS = {
    "lift": "sampled",
    "lift_mean": "mean of samples",
    "lift_greedy": "greedy",
    "lift_scored": "scored classes",
    "lift_corrected": "scored, prior corrected",
    "lift_averaged": "repeats averaged",
}


def uncertainty_figure(
    results: pd.DataFrame, bins: pd.DataFrame | None, title: str = TITLES["uncertainty"]
) -> Figure:
    """A column per table. Regression: the mean spread of LIFT's sampled answers against the
    noise added to the training targets (the diagonal: a spread equal to the noise), and the
    test RAE of their median, their mean and the greedy answer beside the baselines'.
    Classification: the reliability diagram of each way LIFT answered (``bins``:
    ``metrics.reliability`` with the ``dataset``), and every model's ECE."""
    tables = list(results[["task", "dataset"]].drop_duplicates().itertuples(index=False))
    figure, axes = plt.subplots(2, len(tables), figsize=(5 * len(tables), 8), squeeze=False)
    for column, (task, dataset) in enumerate(tables):
        rows = results[(results["task"] == task) & (results["dataset"] == dataset)]
        top, bottom = axes[0, column], axes[1, column]
        if task == "regression":
            _spread_panels(rows, dataset, top, bottom)
            continue
        if bins is not None:
            mine = bins[bins["dataset"] == dataset]
            named = mine.assign(model=[_answer_name(m, task) for m in mine["model"]])
            reliability_diagram(top, named, f"{dataset}: LIFT's answers")
        ece = rows.groupby("model", sort=False)["ece"].mean().dropna()
        colours = ["black" if m in ANSWERS else "0.6" for m in ece.index]
        bottom.barh([_answer_name(m, task) for m in ece.index], ece.to_numpy(), color=colours)
        bottom.invert_yaxis()
        bottom.set_xlabel("expected calibration error (lower is better)")
        bottom.set_title(f"{dataset}: ECE on the test rows", fontsize=10)
        bottom.grid(alpha=0.3, axis="x")
        bottom.tick_params(axis="y", labelsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def _answer_name(model: str, task: str) -> str:
    if model == "lift":
        return "median of samples" if task == "regression" else "sampled votes"
    return ANSWERS.get(model, model)


def _spread_panels(rows: pd.DataFrame, dataset: str, top: plt.Axes, bottom: plt.Axes) -> None:
    """A regression table's two panels of ``uncertainty_figure``."""
    noise = pd.to_numeric(rows["level"])
    sampled = rows[rows["model"] == "lift"].assign(noise=noise)
    spread = sampled.groupby("noise")["spread"].agg(["mean", "std"]).fillna(0)
    top.errorbar(spread.index, spread["mean"], yerr=spread["std"], color="black", marker="o",
                 linewidth=2, capsize=2, label="LIFT: spread of samples")  # fmt: skip
    reach = max(float(spread.index.max()), float(spread["mean"].max()), 1e-9)
    top.plot([0, reach], [0, reach], color="0.5", linestyle="--", label="spread = noise")
    top.set_xlabel("noise added to the training targets (standard deviation)")
    top.set_ylabel("spread of the sampled answers (robust std)")
    top.set_title(f"{dataset}: does the spread follow the noise?", fontsize=10)
    top.legend(fontsize=8)
    top.grid(alpha=0.3)
    rae = rows.assign(noise=noise).groupby(["model", "noise"])["rae"].mean()
    for model in dict.fromkeys(rows["model"]):
        line = rae[model]
        if model in ANSWERS:
            style = {"color": "black", "marker": "o", "linewidth": 2}
            style["linestyle"] = {"lift": "-", "lift_mean": "--"}.get(model, ":")
        else:
            style = {"color": "0.65", "linewidth": 1, "marker": "."}
        label = _answer_name(model, "regression")
        bottom.plot(line.index, line.to_numpy(), label=label, **style)
    bottom.set_xlabel("noise added to the training targets (standard deviation)")
    bottom.set_ylabel(NAMES["rae"])
    bottom.set_title(f"{dataset}: test RAE (test targets as they are)", fontsize=10)
    bottom.legend(fontsize=7, ncol=2)
    bottom.grid(alpha=0.3)


def in_context_figure(results: pd.DataFrame, title: str = TITLES["in_context"]) -> Figure:
    """A panel per table: per variant (in context, fine-tuned on the same rows, on all rows)
    the test accuracy (mean over repeats) of the language model's ways of answering (black
    and dark grey) and of the best baseline fitted on the same rows (light, named), the
    majority class dotted; the paper's figures as crosses."""
    tables = list(results["dataset"].drop_duplicates())
    figure, axes = plt.subplots(1, len(tables), figsize=(6 * len(tables), 4.2), squeeze=False)
    ours = (*IN_CONTEXT_MODELS, *LIFT_MODELS)
    for axis, dataset in zip(axes.flat, tables, strict=True):
        rows = results[results["dataset"] == dataset]
        accuracy = rows.groupby(["variant", "model"], sort=False)["accuracy"].mean() * 100
        published = rows.groupby(["variant", "model"], sort=False)["paper_accuracy"].first() * 100
        ticks, x = [], 0.0
        for variant in _ordered(rows):
            mine = accuracy[variant]
            bars = [m for m in ours if m in mine.index]
            baselines = mine.drop([*bars, *NO_SKILL], errors="ignore")
            if not baselines.empty:
                bars.append(str(baselines.idxmax()))
            start = x
            for model in bars:
                shade = "black" if model in ("lift", "in_context_generated") else "0.35"
                shade = shade if model in ours else "0.75"
                axis.bar(x, mine[model], width=0.8, color=shade)
                axis.text(x, 1, model.replace("_", " "), rotation=90, ha="center", va="bottom",
                          fontsize=7, color="white" if model in ours else "black")  # fmt: skip
                if np.isfinite(published.get((variant, model), np.nan)):
                    axis.scatter(x, published[(variant, model)], marker="x", s=50, color="red",
                                 zorder=5)  # fmt: skip
                x += 1
            label = rows.loc[rows["variant"] == variant, "label"].iloc[0]
            ticks.append(((start + x - 1) / 2, label))
            x += 0.8
        if "majority" in set(rows["model"]):
            axis.axhline(accuracy.xs("majority", level="model").mean(), color="0.4",
                         linestyle=":", label="majority class")  # fmt: skip
            axis.legend(fontsize=8, loc="upper left")
        axis.set_xticks([t for t, _ in ticks], [label for _, label in ticks], fontsize=8)
        axis.set_ylim(0, 105)
        axis.set_ylabel(NAMES["accuracy"])
        axis.set_title(f"{dataset} (red x: the paper's GPT-J)", fontsize=10)
        axis.grid(alpha=0.3, axis="y")
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def two_stage_figure(
    results: pd.DataFrame, compared: Mapping[str, str], title: str = TITLES["two_stage"]
) -> Figure:
    """A panel per table: LIFT's test score (the task's ``compared`` metric; mean over
    repeats, the std as a bar) against the training rows, fine-tuned from the pretrained
    model (solid) and after the first stage (dashed), the baselines fitted on the same rows
    thin; the paper's figures as crosses."""
    tables = list(results[["task", "dataset"]].drop_duplicates().itertuples(index=False))
    width = max(10.0, 5.5 * len(tables))  # the title's width at least
    figure, axes = plt.subplots(1, len(tables), figsize=(width, 4), squeeze=False)
    for axis, (task, dataset) in zip(axes.flat, tables, strict=True):
        rows = results[(results["task"] == task) & (results["dataset"] == dataset)]
        metric = compared[task]
        scale = _scale(metric)
        rows = rows.assign(n=pd.to_numeric(rows["level"]))
        lift = rows[rows["model"] == "lift"]
        for facet, label, style in [
            ("fine_tune", "LIFT", "-"),
            ("two_stage", "LIFT, two-stage", "--"),
        ]:
            mine = lift[lift["facet"] == facet].groupby("n")
            mean, std = mine[metric].mean() * scale, mine[metric].std(ddof=0).fillna(0) * scale
            axis.errorbar(mean.index, mean, yerr=std, color="black", linestyle=style,
                          linewidth=2, marker="o", capsize=2, label=label)  # fmt: skip
            published = mine[f"paper_{metric}"].first() * scale
            if published.notna().any():
                axis.scatter(published.index, published, marker="x", s=50, color="red",
                             zorder=5)  # fmt: skip
        baselines = rows[~rows["model"].isin(LIFT_MODELS) & (rows["facet"] == "fine_tune")]
        colours = plt.get_cmap("tab10")(np.arange(baselines["model"].nunique()) % 10)
        grouped = baselines.groupby("model", sort=False)
        for colour, (model, line) in zip(colours, grouped, strict=True):
            values = line.groupby("n")[metric].mean() * scale
            axis.plot(values.index, values, **_style(model, colour), label=model)
        axis.set_xscale("log")
        sizes = sorted(rows["n"].unique())
        axis.set_xticks(sizes, [f"{n:g}" for n in sizes])
        axis.minorticks_off()
        axis.set_xlabel("training rows (log scale)")
        axis.set_ylabel(NAMES.get(metric, metric))
        axis.set_title(f"{dataset} (red x: the paper's GPT-J)", fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def image_robustness_figure(results: pd.DataFrame, examples: pd.DataFrame) -> Figure:
    """One panel per (table, perturbation): every model's test accuracy against the level of
    the perturbation (``variant_figure``'s lines), and under it the first test image of
    ``examples`` (``image_examples``) at each level, as the models saw it."""
    panels = _panels(results)
    colours = _colours(results)
    figure = plt.figure(figsize=(5.4 * len(panels), 6.2))
    grid = figure.add_gridspec(2, len(panels), height_ratios=[3.2, 1.3])
    axes = []
    for column, (task, dataset, facet) in enumerate(panels):
        rows, order = _panel_rows(results, task, dataset, facet)
        axis = figure.add_subplot(grid[0, column])
        _variant_lines(axis, rows, METRICS[task][0], order, colours)
        labels = rows.drop_duplicates("variant").set_index("variant").reindex(order)["label"]
        axis.set_xticks(np.arange(len(order)), list(labels), fontsize=8)
        axis.set_xlabel("level (0-1 scale of the brightest pixel)", fontsize=8)
        axis.set_title(f"{dataset}: {facet}", fontsize=10)
        axes.append(axis)
        strip = grid[1, column].subgridspec(1, len(order), wspace=0.08)
        for i, variant in enumerate(order):
            shown = examples[(examples["dataset"] == dataset) & (examples["variant"] == variant)]
            picture = figure.add_subplot(strip[0, i])
            picture.set_axis_off()
            if shown.empty:
                continue
            first = shown.iloc[0]
            image = np.reshape(np.asarray(first["pixels"], dtype=float), (int(first["height"]), -1))
            picture.imshow(image, cmap="gray_r", vmin=0, vmax=1)
            picture.set_title(str(labels[variant]), fontsize=7)
    handles = _legend(figure, axes, results)
    figure.suptitle(TITLES["image_robustness"])
    figure.tight_layout(rect=(0, 0.04 + 0.035 * (len(handles) // 6), 1, 1))
    return figure
