"""The held-in suite's results (conf/realdata, the paper's protocol with three repeats), kept
with the docs so that docs/real-data.md and the README are built from them, not typed.

Run a table of the suite through the pipeline, then collect its newest scores:

    kedro run --pipelines=classification --env realdata --namespaces=classification.wine
    .venv/bin/python benchmarks/realdata.py collect --task classification --tables wine

A table too long for one sitting runs its repeats in several (``split.first_repeat``), each
collected with ``--merge``, which joins it to the repeats collected before:

    kedro run --pipelines=classification --env realdata --namespaces=classification.digits \
        --params=classification.split.first_repeat=2,classification.split.repeats=1
    .venv/bin/python benchmarks/realdata.py collect --task classification --tables digits --merge

``collect`` copies each table's newest ``data/08_reporting/<task>/<table>/scores.csv`` to
``docs/results/realdata/<task>/<table>.csv`` (one row per model and repeat, as the run saved
it) and the LIFT answers that its ``lift_averaged`` averages to ``<table>.answers.parquet``,
records where it came from in ``docs/results/realdata/runs.json`` (the run's version, its
repeats, its seconds from the run's ``run_timings.json``, the commit and the machine), draws the
task's collected tables (``docs/images/realdata_<task>.png``), and rewrites the README's summary
between its ``<!-- realdata-summary -->`` markers (``readme`` rewrites that alone). The docs'
hook renders ``<!-- realdata: <task> -->`` with ``table``; ``summary`` is the README's
paragraph."""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import yaml

from lift.evaluation import published
from lift.evaluation.metrics import model_scores
from lift.evaluation.reporting import comparison_plot, summarize
from lift.evaluation.suite import AVERAGED, NO_SKILL, against_baselines
from lift.method import learner

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs/results/realdata"
IMAGES = ROOT / "docs/images"
# the bar (how near the best baseline LIFT must come), in each task's metric
MARGIN = {"classification": 0.05, "regression": 0.10}
WITHIN = {"classification": "within 5 points", "regression": "within 0.1 RAE"}
README_MARKERS = ("<!-- realdata-summary -->", "<!-- /realdata-summary -->")


def suite_tables(task: str, env: str = "realdata") -> list[str]:
    """The tables ``conf/<env>`` runs for ``task``, in its order."""
    return [name for name, entry in _suite(task, env)["datasets"].items() if entry]


def suite_repeats(task: str, env: str = "realdata") -> int:
    """How many repeats ``conf/<env>`` runs of each table of ``task``."""
    return int(_suite(task, env)["split"]["repeats"])


def _suite(task: str, env: str) -> dict:
    return yaml.safe_load((ROOT / "conf" / env / f"parameters_{task}.yml").read_text())[task]


def newest(folder: Path) -> Path:
    """The newest saved version (Kedro's timestamped folders) of an artifact folder."""
    versions = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if not versions:
        raise FileNotFoundError(f"{folder} has no saved version: has the table's run finished?")
    return versions[-1]


def collect(
    data: Path,
    task: str,
    tables: list[str],
    commit: str = "",
    results: Path = RESULTS,
    merge: bool = False,
) -> dict[str, list[dict]]:
    """Copy the newest scores of each of ``tables`` under ``data`` (a project's data folder)
    into ``results`` and record their provenance (``commit``: the code the run ran, by default
    the data folder's checkout's HEAD); returns the records written.

    With ``merge`` a run of some repeats (``split.first_repeat``) joins the repeats collected
    earlier, replacing those it ran again: the repeats' LIFT answers, kept beside the scores,
    are averaged again into ``lift_averaged``, and each run is recorded with its repeats."""
    known = suite_tables(task)
    unknown = [t for t in tables if t not in known]
    if unknown:
        raise ValueError(f"{unknown} are not {task} tables of conf/realdata (its: {known})")
    runs = runs_of(results)
    project = data.resolve().parent
    commit = (
        commit
        or subprocess.run(
            ["git", "-C", str(project), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    )
    from benchmarks.performance.machine import cpu_name

    for table in tables:
        version = newest(data / "08_reporting" / task / table / "scores.csv")
        scores = pd.read_csv(version / "scores.csv")
        if set(scores["dataset"]) != {table}:
            raise ValueError(f"{version} holds {sorted(set(scores['dataset']))}, not {table}")
        answers = data / "07_model_output" / task / table / "lift_predictions.parquet"
        answers = answers / version.name / "lift_predictions.parquet"
        answered = (
            learner.averaged_source(pd.read_parquet(answers), task == "classification")
            if answers.exists()
            else None
        )
        repeats = sorted(int(r) for r in scores.loc[scores["model"] != AVERAGED, "repeat"].unique())
        timings = data / "08_reporting" / "run_timings.json" / version.name / "run_timings.json"
        seconds = json.loads(timings.read_text())["total_seconds"] if timings.exists() else None
        run = {
            "version": version.name,
            "repeats": repeats,
            "seconds": None if seconds is None else round(seconds),
            "commit": commit,
            "machine": cpu_name(),
            "command": (
                f"kedro run --pipelines={task} --env realdata --namespaces={task}.{table}"
                + _repeats_params(task, repeats)
            ),
        }
        earlier = runs.get(f"{task}/{table}", []) if merge else []
        if merge and earlier:
            scores, answered = _merged(task, table, results, scores, answered, repeats)
            earlier = [
                {**r, "repeats": [k for k in r["repeats"] if k not in repeats]} for r in earlier
            ]
        target = results / task / f"{table}.csv"
        target.parent.mkdir(parents=True, exist_ok=True)
        scores.to_csv(target, index=False)
        if answered is None:
            _answers_file(results, task, table).unlink(missing_ok=True)
        else:
            answered.to_parquet(_answers_file(results, task, table), index=False)
        runs[f"{task}/{table}"] = [r for r in earlier if r["repeats"]] + [run]
    (results / "runs.json").write_text(json.dumps(dict(sorted(runs.items())), indent=2) + "\n")
    return runs


def _merged(
    task: str,
    table: str,
    results: Path,
    scores: pd.DataFrame,
    answered: pd.DataFrame | None,
    repeats: list[int],
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The scores (and averaged answers) of ``table``'s collected repeats that the new run did
    not run again, joined with the new run's; ``lift_averaged`` made again from every repeat's
    answers."""
    before = pd.read_csv(results / task / f"{table}.csv")
    kept = before[(before["model"] != AVERAGED) & ~before["repeat"].isin(repeats)]
    if kept.empty:
        return scores, answered
    if set(kept["n_test"]) != set(scores["n_test"]):
        raise ValueError(
            f"{table}: the collected repeats answered {sorted(set(kept['n_test']))} test rows and "
            f"the new run {sorted(set(scores['n_test']))}: not the same split; collect without "
            "--merge to replace them"
        )
    earlier = _answers_file(results, task, table)
    joined = pd.concat([kept, scores[scores["model"] != AVERAGED]], ignore_index=True)
    joined = joined.sort_values("repeat", kind="stable").reset_index(drop=True)
    if answered is None or not earlier.exists():  # nothing to average the repeats from
        return joined, None
    every = pd.read_parquet(earlier)
    every = pd.concat([every[~every["repeat"].isin(repeats)], answered], ignore_index=True)
    if every["repeat"].nunique() > 1:
        average = learner.averaged_repeats(every)
        first = joined[joined["repeat"] == average["repeat"].iloc[0]].iloc[0]
        row = {
            **first[["dataset", "n_train", "n_validation", "n_test"]].to_dict(),
            "model": AVERAGED,
            "repeat": int(average["repeat"].iloc[0]),
            "answers": average["answers"].iloc[0],
            "lift_status": average["lift_status"].iloc[0],
            **model_scores(task, average),
        }
        joined = pd.concat([joined, pd.DataFrame([row])], ignore_index=True)
    return joined[scores.columns], every


def _answers_file(results: Path, task: str, table: str) -> Path:
    """Where the answers that a table's ``lift_averaged`` averages are kept beside its scores."""
    return results / task / f"{table}.answers.parquet"


def _repeats_params(task: str, repeats: list[int]) -> str:
    """The ``--params`` that run ``repeats`` of a table (none for the suite's own)."""
    if repeats == list(range(suite_repeats(task))):
        return ""
    first = f"{task}.split.first_repeat={repeats[0]}," if repeats[0] else ""
    return f" --params={first}{task}.split.repeats={len(repeats)}"


def runs_of(results: Path = RESULTS) -> dict[str, list[dict]]:
    """Where each collected table's scores came from, by ``<task>/<table>``: its runs, each
    with the repeats it made."""
    runs = results / "runs.json"
    return json.loads(runs.read_text()) if runs.exists() else {}


def collected(task: str, results: Path = RESULTS) -> pd.DataFrame:
    """The scores of every table of ``task`` collected in ``results``, in the suite's order
    (tables not in the suite last)."""
    folder = results / task
    files = {p.stem: p for p in folder.glob("*.csv")} if folder.is_dir() else {}
    suite = suite_tables(task)
    order = [t for t in suite if t in files] + sorted(t for t in files if t not in suite)
    if not order:
        return pd.DataFrame(columns=["dataset", "model", "repeat"])
    return pd.concat([pd.read_csv(files[t]) for t in order], ignore_index=True)


def comparison(task: str, results: Path = RESULTS) -> pd.DataFrame:
    """``lift.evaluation.suite.against_baselines`` on every table of ``task`` collected in
    ``results``."""
    scores = collected(task, results)
    if scores.empty:
        return pd.DataFrame(columns=["dataset"])
    return against_baselines(
        scores,
        task,
        MARGIN[task],
        published.of_task(task),
        published.of_task(task, spread=True),
    )


def draw(task: str, results: Path = RESULTS, images: Path = IMAGES) -> Path | None:
    """The collected tables of ``task``, every model's score (mean ± sd over the repeats, the
    paper's LIFT as a tick), drawn to ``images/realdata_<task>.png``; None where none is."""
    scores = collected(task, results)
    if scores.empty:
        return None
    figure = comparison_plot(summarize(scores, task, published.of_task(task)))
    path = images / f"realdata_{task}.png"
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return path


def _shown(value: float, metric: str, sd: float = math.nan) -> str:
    """A figure as the tables show it: accuracy in %, errors with three decimals; "" for NaN."""
    if math.isnan(value):
        return ""
    text = f"{100 * value:.2f}" if metric == "accuracy" else f"{value:.3f}"
    if not math.isnan(sd):
        text += f" ± {100 * sd:.2f}" if metric == "accuracy" else f" ± {sd:.3f}"
    return text


def table(task: str, results: Path = RESULTS) -> str:
    """The docs' table of ``task``: a row per table of the suite, collected or not, then the
    count within the margin and each run's provenance."""
    rows = comparison(task, results)
    runs = runs_of(results)
    no_skill = NO_SKILL[task]
    unit = "Accuracy %" if task == "classification" else "RAE (lower is better)"
    lines = [
        f"| table | repeats | {no_skill} | best baseline | LIFT: mean ± sd (each repeat) | "
        f"LIFT, repeats averaged | the paper's LIFT (GPT-J) | {WITHIN[task]}: mean, averaged |",
        "|---" * 8 + "|",
    ]
    by_table = {row["dataset"]: row for row in rows.to_dict("records")}
    suite = suite_tables(task)
    for name in [*suite, *(t for t in by_table if t not in suite)]:
        row = by_table.get(name)
        if row is None:
            lines.append(f"| {name} | not run with these settings yet |" + " |" * 6)
            continue
        metric = row["metric"]
        each = ", ".join(
            f"{100 * v:.1f}" if metric == "accuracy" else f"{v:.3f}" for v in row["lift_each"]
        )
        status = "" if row["lift_status"] in ("", "learnt") else f" ({row['lift_status']})"
        lift = _shown(row["lift"], metric, row["lift_sd"])
        averaged = _shown(row["lift_averaged"], metric)
        lines.append(
            f"| {name} | {row['repeats']} | {_shown(row['no_skill'], metric)} | "
            f"{row['best_baseline']} {_shown(row['baseline'], metric, row['baseline_sd'])} | "
            f"{'**' + lift + '**' if row['within'] else lift} ({each}){status} | "
            f"{'**' + averaged + '**' if row['within_averaged'] else averaged} | "
            f"{_shown(row['paper_lift'], metric, row['paper_lift_sd'])} | "
            f"{_yes(row['within'])}, {_yes(row['within_averaged'])} |"
        )
    lines += ["", f"{unit}, test split. {count(task, rows)}"]
    if by_table:
        lines += [
            "",
            "| table | repeats | run (its version) | seconds | commit | machine |",
            "|---" * 6 + "|",
        ]
    for name in by_table:
        for run in runs.get(f"{task}/{name}", []):
            lines.append(
                f"| {name} | {', '.join(map(str, run['repeats']))} | {run['version']} | "
                f"{run['seconds'] or ''} | {run['commit']} | {run['machine']} |"
            )
    return "\n".join(lines)


def _yes(near: bool) -> str:
    return "yes" if near else "no"


def count(task: str, rows: pd.DataFrame | None = None, results: Path = RESULTS) -> str:
    """One sentence: how many of the tables run are within the margin, which, which are at
    the prior, which have run some of the suite's repeats only, and which have not run yet."""
    rows = comparison(task, results) if rows is None else rows
    missing = [t for t in suite_tables(task) if t not in set(rows["dataset"])]
    if rows.empty:
        return f"No {task} table has run with these settings yet ({', '.join(missing)})."
    within = rows.loc[rows["within"], "dataset"].tolist()
    averaged = rows.loc[rows["within_averaged"], "dataset"].tolist()
    prior = rows.loc[rows["lift_status"].str.startswith("at_prior"), "dataset"].tolist()
    repeats = suite_repeats(task)
    partial = [
        f"{r['dataset']} ({r['repeats']})" for _, r in rows.iterrows() if r["repeats"] < repeats
    ]
    return (
        f"LIFT {WITHIN[task]} of the best baseline on {len(within)} of the {len(rows)} "
        f"{task} tables run ({', '.join(within) or 'none'}), its repeats averaged on "
        f"{len(averaged)} ({', '.join(averaged) or 'none'}); at the prior on "
        f"{', '.join(prior) or 'none'}"
        + (f"; fewer than {repeats} repeats so far: {', '.join(partial)}" if partial else "")
        + (f"; not run with these settings yet: {', '.join(missing)}." if missing else ".")
    )


def summary(results: Path = RESULTS) -> str:
    """The README's paragraph, from the collected results."""
    return textwrap.fill(
        "On the held-in real tables (`conf/realdata`, the paper's protocol with three repeats, "
        "the embedded model; [Real data](docs/real-data.md#the-suite-three-repeats)): "
        + " ".join(count(task, results=results) for task in MARGIN),
        width=100,
        break_on_hyphens=False,
        break_long_words=False,
    )


def write_readme(readme: Path = ROOT / "README.md", results: Path = RESULTS) -> None:
    """Replace the README's text between its markers with ``summary``."""
    text = readme.read_text()
    start, end = README_MARKERS
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise ValueError(f"{readme} has no {start} ... {end} block to fill")
    readme.write_text(pattern.sub(lambda _: f"{start}\n{summary(results)}\n{end}", text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["collect", "readme"])
    parser.add_argument("--task", choices=list(MARGIN), default="classification")
    parser.add_argument("--tables", nargs="+", default=[])
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="the run's data folder")
    parser.add_argument("--commit", default="", help="the code the run ran (default: its HEAD)")
    parser.add_argument(
        "--merge", action="store_true", help="join the run's repeats to those collected before"
    )
    args = parser.parse_args()
    if args.command == "collect":
        if not args.tables:
            parser.error("collect needs --tables")
        collect(args.data, args.task, args.tables, args.commit, merge=args.merge)
        draw(args.task)
    write_readme()
    print(table(args.task))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
