"""Ways of answering, compared on the same adapters: a pipeline run's saved adapters of one table
(its latest versions in the catalog) answer its test rows again with other ``lift.generation``
settings, and every way's scores are printed side by side, with the seconds each took.

    .venv/bin/kedro run --pipelines=regression --env realdata --namespaces=regression.auto
    .venv/bin/python benchmarks/answers.py regression auto --env realdata \\
        --way greedy='{}' --way scored='{"mode": "score"}'

A way is a mapping in the shape of the ``generation`` section over the run's own settings. The
adapters and their epochs are the run's (chosen on its validation rows), so the ways differ in
how they answer only. A measurement, not a pipeline step: nothing is written to the catalog;
``--out`` keeps the predictions of every way as CSV. ``--split validation`` answers each
repeat's validation rows instead, to choose a way without reading the test rows.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from lift.evaluation.metrics import score_predictions
from lift.method import learner
from lift.method.language_model import BaseModel
from lift.method.tasks import task_for

ROOT = Path(__file__).resolve().parents[1]
RUN = ("adapters", "prompts", "schema", "encoding", "settings", "splits")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=["classification", "regression"])
    parser.add_argument("table", help="the dataset's name in the run's catalog")
    parser.add_argument("--env", default="base", help="the run's Kedro environment")
    parser.add_argument(
        "--way", action="append", required=True, help='name=\'{"mode": "score"}\'', default=[]
    )
    parser.add_argument(
        "--split",
        choices=["test", "validation"],
        default="test",
        help="the rows answered: the test rows, or each repeat's validation rows (a way chosen "
        "without the test rows; no lift_averaged, since the repeats' validation rows differ)",
    )
    parser.add_argument("--out", type=Path, help="a folder for each way's predictions (CSV)")
    args = parser.parse_args()
    ways = {name: json.loads(text) for name, _, text in (w.partition("=") for w in args.way)}
    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
    bootstrap_project(ROOT)
    with KedroSession.create(project_path=ROOT, env=args.env) as session:
        catalog = session.load_context().catalog
        adapters, prompts, schema, encoding, settings, splits = (
            catalog.load(f"{args.task}.{args.table}.{artifact}") for artifact in RUN
        )
        base = BaseModel.from_dict(catalog.load("base_model"))
    if args.split == "validation":
        prompts, splits = as_test(prompts), as_test(splits)
    scores = []
    for name, generation in ways.items():
        if args.split == "validation":
            generation = {**generation, "average_repeats": False}
        lift = settings.lift.overridden({"generation": generation})
        task = task_for(schema, lift.serialization)
        started = time.perf_counter()
        predictions = learner.predict(args.table, base, adapters, prompts, task, lift, encoding)
        seconds = time.perf_counter() - started
        scored = score_predictions(args.table, predictions, splits, args.task)
        scores.append(scored.assign(way=name, seconds=round(seconds, 1)))
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            predictions.to_csv(args.out / f"{args.table}_{name}.csv", index=False)
    metric = ["rae", "rmse", "r2"] if args.task == "regression" else ["accuracy", "log_loss"]
    shown = ["way", "seconds", "model", "repeat", "answers", *metric, "invalid_rate"]
    with pd.option_context("display.width", 200, "display.max_rows", None):
        print(pd.concat(scores, ignore_index=True)[shown].to_string(index=False))


def as_test(table: pd.DataFrame) -> pd.DataFrame:
    """A table of ``repeat`` and ``split`` columns (the prompts, the splits) whose validation
    entries are also its test entries, in place of the test rows: answered as the test rows
    are, and still there as validation rows for what fits on them (the prior correction)."""
    validation = table[table["split"] == "validation"]
    kept = table[table["split"] != "test"]
    return pd.concat([kept, validation.assign(split="test")], ignore_index=True)


if __name__ == "__main__":
    main()
