"""The ``numeric_encoding`` study: LIFT with each way of writing numbers
(``lift.method.encoding``) on the same splits of the same tables, beside the baselines. Every
encoding is fine-tuned and tested on every repeat; the results say, per table, each encoding's
test score, its validation score, and which encoding validation alone would have chosen (what
``lift.selection.encoding`` does)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import matplotlib

matplotlib.use("Agg")  # reports are files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from pydantic import Field  # noqa: E402

from lift.config.errors import DatasetInputError  # noqa: E402
from lift.config.lift import NumberEncoding, Settings  # noqa: E402
from lift.data.preprocessing import TaskName  # noqa: E402
from lift.evaluation.metrics import METRICS  # noqa: E402
from lift.evaluation.suite import NO_SKILL  # noqa: E402
from lift.method.fine_tuning import TrainedAdapter  # noqa: E402
from lift.method.tasks import Classification, Regression  # noqa: E402

logger = logging.getLogger(__name__)

STUDY = "numeric_encoding"
# the validation metric each task chooses by (as fine-tuning does), and whether higher is better
SELECT_ON = {
    "classification": (Classification.select_on, Classification.maximize),
    "regression": (Regression.select_on, Regression.maximize),
}


class EncodingStudySettings(Settings):
    """The study's parameters (``numeric_encoding``): the encodings compared and the tables,
    by task, among those declared in ``<task>.datasets``."""

    encodings: Annotated[list[NumberEncoding], Field(min_length=1)]
    datasets: dict[TaskName, list[str]] = {}

    def tables(self, declared: Mapping[str, Mapping[str, Any] | None]) -> list[tuple[str, str]]:
        """``(task, dataset)`` of every table studied; ``declared`` is each task's
        ``datasets``. A table an environment switched off (null there) is left out with a
        warning; a name not declared raises ``DatasetInputError``."""
        if len(set(self.encodings)) != len(self.encodings):
            raise DatasetInputError(
                f"Parameter `{STUDY}.encodings` names an encoding twice: {self.encodings}."
            )
        named = [(task, name) for task, names in self.datasets.items() for name in names]
        if not named:
            raise DatasetInputError(
                f"Parameter `{STUDY}.datasets` names no table; list some under `classification` "
                "or `regression`."
            )
        tables = []
        for task, name in named:
            theirs = declared.get(task) or {}
            if theirs.get(name) is not None:
                tables.append((task, name))
            elif name in theirs:
                logger.debug(
                    "The %s study leaves out table '%s': this environment switches it off (null).",
                    STUDY,
                    name,
                )
            else:
                known = sorted(n for n, p in theirs.items() if p is not None)
                raise DatasetInputError(
                    f"Parameter `{STUDY}.datasets.{task}` names '{name}', which is not a "
                    f"dataset of `{task}.datasets` ({known}); declare it there "
                    "(or choose the environment that does, e.g. --env realdata)."
                )
        return tables


def encoding_scores(
    scores: pd.DataFrame,
    adapters: Mapping[int, TrainedAdapter],
    task: str,
    encoding: str,
) -> pd.DataFrame:
    """One encoding's LIFT test scores (``metrics.score_predictions``) with the ``encoding``
    and each repeat's ``validation`` score of the epoch kept (the task's selection metric)."""
    metric = SELECT_ON[task][0]
    validation = {
        repeat: adapter.kept[f"validation_{metric}"] for repeat, adapter in adapters.items()
    }
    return scores.assign(encoding=encoding, validation=scores["repeat"].map(validation))


def compare_encodings(scores: Sequence[pd.DataFrame], tasks: Sequence[str]) -> pd.DataFrame:
    """The study's results: per (task, dataset, model, encoding; baselines without one) the
    primary test metric (``metric``: accuracy or RAE) as mean and std over repeats, the mean
    validation score, and ``selected``: the encoding of each LIFT model whose validation
    score is best (what a selection on validation would have kept)."""
    rows = []
    for frame, task in zip(scores, tasks, strict=True):
        primary = METRICS[task][0]
        frame = frame.assign(task=task, metric=primary, value=frame[primary])
        if "encoding" not in frame:
            frame = frame.assign(encoding="", validation=np.nan)
        columns = ["task", "dataset", "model", "encoding", "repeat", "metric", "value"]
        rows.append(frame[[*columns, "validation"]])
    long = pd.concat(rows, ignore_index=True)
    grouped = long.groupby(["task", "dataset", "model", "encoding", "metric"], sort=False)
    results = grouped.agg(
        value=("value", "mean"), repeats=("repeat", "nunique"), validation=("validation", "mean")
    ).reset_index()
    results.insert(6, "std", grouped["value"].std(ddof=0).to_numpy())
    results["selected"] = False
    lift = results[results["encoding"] != ""]
    for (task, _, _), group in lift.groupby(["task", "dataset", "model"], sort=False):
        maximize = SELECT_ON[task][1]
        ordered = group["validation"] if maximize else -group["validation"]
        if ordered.notna().any():
            results.loc[ordered.idxmax(), "selected"] = True
    return results


def encoding_plot(results: pd.DataFrame) -> Figure:
    """One panel per table: each encoding's LIFT test score (bars; the corrected scores
    hatched where there are any), the encoding validation chose starred, and the no-skill
    baseline (majority class or mean) and the best baseline (named) as lines."""
    tables = list(results[["task", "dataset"]].drop_duplicates().itertuples(index=False))
    columns = min(3, len(tables))
    rows = int(np.ceil(len(tables) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.3 * rows), squeeze=False)
    for axis, (task, dataset) in zip(axes.flat, tables, strict=False):
        table = results[(results["task"] == task) & (results["dataset"] == dataset)]
        scale = 100.0 if task == "classification" else 1.0
        lift = table[table["encoding"] != ""]
        encodings = list(dict.fromkeys(lift["encoding"]))
        models = list(dict.fromkeys(lift["model"]))
        width = 0.8 / len(models)
        for k, model in enumerate(models):
            mine = lift[lift["model"] == model].set_index("encoding").reindex(encodings)
            x = np.arange(len(encodings)) + (k - (len(models) - 1) / 2) * width
            axis.bar(
                x,
                mine["value"] * scale,
                width,
                yerr=mine["std"] * scale,
                label=model,
                hatch="//" if k else None,
                color="tab:blue",
                alpha=0.9 if not k else 0.5,
            )
            for xi, chosen, value in zip(x, mine["selected"], mine["value"], strict=True):
                if chosen:
                    axis.annotate("*", (xi, value * scale), ha="center", va="bottom", fontsize=14)
        baselines = table[table["encoding"] == ""]
        if not baselines.empty:
            reference = baselines[baselines["model"] == NO_SKILL[task]]["value"]
            others = baselines[baselines["model"] != NO_SKILL[task]]
            best = others["value"].max() if task == "classification" else others["value"].min()
            if not reference.empty:
                axis.axhline(reference.iloc[0] * scale, color="grey", ls=":", label="no skill")
            if not others.empty:
                name = others.loc[others["value"].sub(best).abs().idxmin(), "model"]
                axis.axhline(best * scale, color="black", ls="--", label="best baseline")
                axis.annotate(
                    name,
                    (1.0, best * scale),
                    xycoords=("axes fraction", "data"),
                    ha="right",
                    va="bottom",
                    fontsize=7,
                )
        axis.set_xticks(np.arange(len(encodings)), encodings, rotation=30)
        axis.set_title(f"{dataset} ({task})", fontsize=10)
        axis.set_ylabel("test accuracy (%)" if task == "classification" else "test RAE")
        axis.set_ylim(0, axis.get_ylim()[1] * 1.08)  # room for the star
    for axis in list(axes.flat)[len(tables) :]:
        axis.set_visible(False)
    legend = {}
    for axis in axes.flat:
        for handle, label in zip(*axis.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    figure.legend(legend.values(), legend.keys(), loc="lower center", ncol=len(legend), fontsize=8)
    figure.suptitle("LIFT by number encoding (* chosen on validation)")
    figure.tight_layout(rect=(0, 0.05, 1, 1))
    return figure
