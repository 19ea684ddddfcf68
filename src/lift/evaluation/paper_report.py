"""How close this implementation comes to the LIFT paper: each number the paper published
(``lift.evaluation.published``) beside ours from the newest run of the pipeline that
reproduces it on that table, with the difference and a verdict; then LIFT against our best
baseline on the tables the paper did not run (``conf/realdata``'s, a user's); as tables, a
Markdown report and a self-contained HTML page with its figure."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # reports are files; no display is needed or assumed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from lift.evaluation.metrics import METRICS  # noqa: E402
from lift.evaluation.reporting import baselines_of, best_baseline  # noqa: E402

VERDICTS = ("reproduced", "better", "worse", "not run")
LOWER_IS_BETTER = {"rae", "rmse", "mae", "log_loss", "ece"}
PERCENT = {"accuracy"}  # shown in %


def compare(results: Mapping[str, pd.DataFrame], numbers: pd.DataFrame) -> pd.DataFrame:
    """One row per published number (``numbers``, ``published.numbers()``'s columns) with
    ours: ``ours`` (the mean over repeats), ``ours_sd``, ``repeats``, the ``run`` (the
    version its results were saved as), ``difference`` (ours minus the paper's), the
    ``verdict`` and, where not run, ``why``.

    ``results`` maps a pipeline to its results: ``classification`` and ``regression`` their
    ``metrics`` (one row per dataset and model, means and ``<metric>_std``), a study its
    ``results`` (one row per table, variant, model and repeat); a ``version`` column says
    which run each row comes from. A number is
    *reproduced* when ours is within the larger of the paper's ±, our standard deviation and
    half the unit of the paper's last digit; else *better* or *worse*."""
    rows = []
    for number in numbers.to_dict("records"):
        ours, sd, repeats, version, why = _ours(results, number)
        row = {**number, "ours": ours, "ours_sd": sd, "repeats": repeats, "run": version}
        row["why"] = why
        if np.isnan(ours):
            row.update(difference=np.nan, verdict="not run")
        else:
            difference = ours - number["mean"]
            spread = 0.0 if pd.isna(number["spread"]) else float(number["spread"])
            tolerance = max(
                spread, 0.0 if np.isnan(sd) else sd, ROUNDING.get(number["metric"], ERROR_ROUNDING)
            )
            lower = number["metric"] in LOWER_IS_BETTER
            if abs(difference) <= tolerance + 1e-12:
                verdict = "reproduced"
            elif (difference < 0) == lower:
                verdict = "better"
            else:
                verdict = "worse"
            row.update(difference=difference, verdict=verdict)
        rows.append(row)
    return pd.DataFrame(rows)


# half the unit of the last digit the paper printed: accuracies in % with two decimals
# (96.67), errors with two decimals (.08)
ROUNDING = {"accuracy": 0.00005}
ERROR_ROUNDING = 0.005


def _ours(
    results: Mapping[str, pd.DataFrame], number: Mapping[str, object]
) -> tuple[float, float, int, str, str]:
    pipeline, dataset, model = number["pipeline"], number["dataset"], number["model"]
    metric = str(number["metric"])
    if pipeline not in results:
        return np.nan, np.nan, 0, "", f"`kedro run --pipelines={pipeline}` has not run here"
    table = results[pipeline]
    mine = table[(table["dataset"] == dataset) & (table["model"] == model)]
    if "variant" in table and number["variant"]:
        mine = mine[mine["variant"] == number["variant"]]
    if mine.empty or metric not in mine or mine[metric].isna().all():
        if not (table["dataset"] == dataset).any():
            why = (
                f"no {pipeline} run here had table '{dataset}' (the paper's tables: "
                "`--env paper`; OpenML's need the network or a filled cache)"
            )
        else:
            why = f"the {pipeline} results have no {model} {metric} here"
        return np.nan, np.nan, 0, "", why
    version = str(mine["version"].iloc[0]) if "version" in mine else ""
    if "repeat" in mine:  # a study's rows: one per repeat
        values = mine[metric].astype(float)
        return float(values.mean()), float(values.std(ddof=0)), int(values.size), version, ""
    row = mine.iloc[0]
    sd = float(row.get(f"{metric}_std", np.nan))
    repeats = row.get("repeats", np.nan)
    return float(row[metric]), sd, 1 if pd.isna(repeats) else int(repeats), version, ""


def own_tables(results: Mapping[str, pd.DataFrame], numbers: pd.DataFrame) -> pd.DataFrame:
    """LIFT against our best baseline (on the task's first metric) on every table of the
    tasks' results the paper published nothing for: one row per table with ``lift``,
    ``lift_sd``, ``best_baseline``, ``baseline``, ``baseline_sd``, ``difference`` (LIFT's
    minus the baseline's), ``repeats`` and ``run``."""
    published_tables = set(zip(numbers["pipeline"], numbers["dataset"], strict=True))
    rows = []
    for task in METRICS:
        if task not in results or "model" not in results[task]:
            continue
        metric = METRICS[task][0]
        for dataset, mine in results[task].groupby("dataset", sort=False):
            lift = mine[mine["model"] == "lift"]
            if (task, dataset) in published_tables or lift.empty or baselines_of(mine).empty:
                continue
            best = best_baseline(mine, metric)
            ours = lift.iloc[0]
            rows.append(
                {
                    "pipeline": task,
                    "dataset": dataset,
                    "metric": metric,
                    "lift": float(ours[metric]),
                    "lift_sd": float(ours.get(f"{metric}_std", np.nan)),
                    "best_baseline": best["model"],
                    "baseline": float(best[metric]),
                    "baseline_sd": float(best.get(f"{metric}_std", np.nan)),
                    "difference": float(ours[metric] - best[metric]),
                    "repeats": ours.get("repeats", np.nan),
                    "run": str(ours.get("version", "")),
                }
            )
    return pd.DataFrame(rows, columns=OWN_COLUMNS)


OWN_COLUMNS = [
    "pipeline",
    "dataset",
    "metric",
    "lift",
    "lift_sd",
    "best_baseline",
    "baseline",
    "baseline_sd",
    "difference",
    "repeats",
    "run",
]
OWN_HEADER = ["pipeline", "dataset", "metric", "LIFT (ours)", "best baseline", "repeats", "run"]


def _own_rows(own: pd.DataFrame) -> list[list[str]]:
    rows = []
    for row in own.to_dict("records"):
        metric = row["metric"]
        sd = "" if pd.isna(row["lift_sd"]) else f" ± {_shown(row['lift_sd'], metric)}"
        base_sd = "" if pd.isna(row["baseline_sd"]) else f" ± {_shown(row['baseline_sd'], metric)}"
        rows.append(
            [
                row["pipeline"],
                row["dataset"],
                metric + (" (%)" if metric in PERCENT else ""),
                _shown(row["lift"], metric) + sd,
                f"{row['best_baseline']} {_shown(row['baseline'], metric)}{base_sd}",
                "" if pd.isna(row["repeats"]) else str(int(row["repeats"])),
                row["run"],
            ]
        )
    return rows


def _own_intro(own: pd.DataFrame) -> str:
    lower = own["metric"].isin(list(LOWER_IS_BETTER))
    level = ((own["difference"] >= 0) & ~lower) | ((own["difference"] <= 0) & lower)
    return (
        f"Tables the paper did not run: {len(own)}; our LIFT at least as good as our best "
        f"baseline on {int(level.sum())} of them."
    )


def counts(comparison: pd.DataFrame) -> dict[str, int]:
    """How many numbers have each verdict."""
    found = comparison["verdict"].value_counts()
    return {verdict: int(found.get(verdict, 0)) for verdict in VERDICTS}


def figure(comparison: pd.DataFrame) -> plt.Figure:
    """Ours against the paper's, one panel per metric, a point per number that ran, coloured
    by verdict; on the diagonal ours equals the paper's."""
    ran = comparison[comparison["verdict"] != "not run"]
    metrics = list(dict.fromkeys(ran["metric"])) or ["accuracy"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 4), squeeze=False)
    colours = {"reproduced": "tab:blue", "better": "tab:green", "worse": "tab:red"}
    for axis, metric in zip(axes[0], metrics, strict=True):
        mine = ran[ran["metric"] == metric]
        for verdict, colour in colours.items():
            points = mine[mine["verdict"] == verdict]
            axis.scatter(points["mean"], points["ours"], s=18, color=colour, label=verdict)
        if len(mine) <= 40:  # few enough to name
            for row in mine.itertuples():
                name = f"{row.dataset} {row.model}" + (f" {row.variant}" if row.variant else "")
                axis.annotate(name, (row.mean, row.ours), fontsize=6, alpha=0.7,
                              xytext=(3, -3), textcoords="offset points")  # fmt: skip
        top = float(np.nanmax([*mine["mean"], *mine["ours"], 1e-9])) * 1.05
        axis.plot([0, top], [0, top], color="grey", linewidth=0.8)
        axis.set(xlabel=f"the paper's {metric}", ylabel=f"ours ({metric})", xlim=(0, top))
        axis.set_ylim(0, top)
        axis.legend(fontsize=8, loc="upper left")
    fig.suptitle("Ours against the paper's published numbers (the diagonal: equal)")
    fig.tight_layout()
    return fig


def _shown(value: float, metric: str) -> str:
    if pd.isna(value):
        return "-"
    return f"{100 * value:.2f}" if metric in PERCENT else f"{value:.3f}"


def _table_rows(comparison: pd.DataFrame) -> list[list[str]]:
    rows = []
    for row in comparison.to_dict("records"):
        metric = row["metric"]
        paper = _shown(row["mean"], metric)
        if not pd.isna(row["spread"]):
            paper += f" ± {_shown(row['spread'], metric)}"
        ours = _shown(row["ours"], metric)
        if not pd.isna(row["ours_sd"]) and row["repeats"] > 1:
            ours += f" ± {_shown(row['ours_sd'], metric)}"
        model = row["model"] + (f" ({row['language_model']})" if row["language_model"] else "")
        rows.append(
            [
                row["pipeline"],
                row["dataset"],
                row["variant"] or "",
                model,
                metric + (" (%)" if metric in PERCENT else ""),
                paper,
                ours,
                str(row["repeats"] or ""),
                row["run"],
                row["verdict"] + (f": {row['why']}" if row["why"] else ""),
                row["source"],
            ]
        )
    return rows


HEADER = [
    "pipeline",
    "dataset",
    "variant",
    "model (the paper's LM)",
    "metric",
    "paper",
    "ours",
    "repeats",
    "run",
    "verdict",
    "source",
]


def _intro(comparison: pd.DataFrame, ours_model: str) -> list[str]:
    found = counts(comparison)
    return [
        f"Of the paper's {len(comparison)} published numbers: {found['reproduced']} reproduced, "
        f"{found['better']} better, {found['worse']} worse, {found['not run']} not run.",
        f"Our LIFT rows are fine-tuned from `{ours_model}`; the paper's from GPT-J (6B "
        "parameters) or GPT-3, named beside each LIFT number. The embedded model has 135M "
        "parameters, some 45 times fewer than GPT-J.",
        "Reproduced: ours within the larger of the paper's ±, our standard deviation over "
        "repeats and the rounding of the paper's figure; better or worse otherwise (accuracy: "
        "higher is better; RAE and RMSE: lower).",
    ]


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return lines


def markdown(comparison: pd.DataFrame, ours_model: str, own: pd.DataFrame | None = None) -> str:
    """The report as Markdown: the summary, one table row per published number, then
    ``own_tables``' section where there is one."""
    lines = ["# This implementation against the LIFT paper", ""]
    for paragraph in _intro(comparison, ours_model):
        lines += [paragraph, ""]
    lines += _markdown_table(HEADER, _table_rows(comparison))
    if own is not None and not own.empty:
        lines += ["", f"## {OWN_TITLE}", "", _own_intro(own), ""]
        lines += _markdown_table(OWN_HEADER, _own_rows(own))
    return "\n".join(lines) + "\n"


OWN_TITLE = "Tables the paper did not run: LIFT against our best baseline"


def page(
    comparison: pd.DataFrame, ours_model: str, plot: plt.Figure, own: pd.DataFrame | None = None
) -> str:
    """The report as one self-contained HTML page (its figure embedded)."""
    buffer = io.BytesIO()
    plot.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    image = base64.b64encode(buffer.getvalue()).decode()
    colours = {"reproduced": "#dbe9f6", "better": "#dcf1dc", "worse": "#f8dcdc"}
    cells = []
    for row, verdict in zip(_table_rows(comparison), comparison["verdict"], strict=True):
        style = f' style="background:{colours[verdict]}"' if verdict in colours else ""
        cells.append(f"<tr{style}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    intro = "".join(f"<p>{html.escape(p)}</p>" for p in _intro(comparison, ours_model))
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<title>LIFT: this implementation against the paper</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}</style></head><body>"
        f"<h1>This implementation against the LIFT paper</h1>{intro}"
        f"<img alt='ours against the paper' src='data:image/png;base64,{image}'>"
        f"<table><tr>{head}</tr>{''.join(cells)}</table>{_own_html(own)}</body></html>\n"
    )


def _own_html(own: pd.DataFrame | None) -> str:
    if own is None or own.empty:
        return ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in OWN_HEADER)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
        for row in _own_rows(own)
    )
    intro = html.escape(_own_intro(own))
    return f"<h2>{html.escape(OWN_TITLE)}</h2><p>{intro}</p><table><tr>{head}</tr>{rows}</table>"
