"""The training recipe on real tables: each named setting fine-tuned on each table of an
environment's suite for a task (conf/realdata by default), per repeat of the paper's protocol
(the test rows: 20 %, seed 0, stratified for classes; repeat r holds out 20 % of the rest with
seed r to choose the epoch, and trains with seed r), with the embedded model on this machine.

    .venv/bin/python benchmarks/recipe.py --tables wine crabs \\
        --recipe now='{}' --recipe steps='{"training": {"min_steps": 400, "patience": 4}}' \\
        --out recipe.jsonl

A recipe is a mapping in the shape of the parameters' ``lift`` section, over what the suite
runs: the environment's ``<task>.lift`` keys, the table's own ``lift`` keys, the library's
defaults. Each fine-tuning appends one JSON line (the table,
recipe, repeat, validation history, the epoch kept, the test score: accuracy or RAE, seconds)
as soon as it is done, so an interrupted study keeps what it measured; a line already in
``--out`` is not run again. With ``--full`` every weight of the model is trained instead
(``benchmarks/full_fine_tuning.py``). With ``--epochs-answered`` every epoch's adapter also
answers the test rows (a study of how the epoch is chosen, never a way to choose it): each
epoch of the history gets its test score, and the line keeps every epoch's class scores on
the validation and test rows (log-probabilities, or numbers for regression) with their
targets, so that other ways of choosing or combining epochs can be scored afterwards
(``benchmarks/epoch_choice.py``)."""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.model_selection import train_test_split

from lift import LIFTClassifier, LIFTRegressor
from lift.config.lift import with_overrides
from lift.data.acquisition import acquire
from lift.data.preprocessing import prepare_table
from lift.data.splits import of_split
from lift.evaluation.metrics import regression_scores
from lift.method import learner
from lift.method.tasks import Answers, Classification, Regression

CONF = Path(__file__).resolve().parents[1] / "conf"


def suite(env: str, task: str) -> tuple[dict[str, dict], dict]:
    """The tables of ``env`` for ``task`` (their entries as conf/<env> declares them) and the
    ``lift`` keys it sets for all of them."""
    parameters = yaml.safe_load((CONF / env / f"parameters_{task}.yml").read_text())[task]
    tables = {name: entry for name, entry in parameters["datasets"].items() if entry}
    return tables, parameters.get("lift") or {}


def table_of(name: str, entry: dict, task: str) -> tuple:
    """The table's features and target, prepared as the pipeline prepares them
    (``prepare_table``: its ``drop_columns``, rows without a target and feature columns with a
    missing value dropped); classes as the table names them, so that the estimator writes
    them as `lift.serialization.labels` says (it codes them 0..K-1 in the same order)."""
    raw, info = acquire(name, entry["source"], task, entry.get("target"))
    target = info["target"]
    table, schema = prepare_table(name, raw, target, task, entry.get("drop_columns", ()))
    y = table[target].to_numpy()
    if task == "classification":
        y = np.asarray(schema["classes"], dtype=object)[y]
    return table.drop(columns=[target]), y


def results(out: Path) -> list[dict]:
    """The fine-tunings ``out`` holds, one a line (none where it does not exist yet)."""
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def summary(out: Path) -> str:
    """The study so far as a Markdown table: per table and recipe, the test score of each
    repeat, their mean, the epochs kept and the seconds of a fine-tuning."""
    runs: dict[tuple, list] = {}
    for run in results(out):
        runs.setdefault((run["table"], run["recipe"]), []).append(run)
    rows = ["| table | recipe | test, by repeat | mean | epoch kept / run | seconds a fit |"]
    rows.append("|---|---|---|---|---|---|")
    for (table, recipe), found in runs.items():
        found.sort(key=lambda run: run["repeat"])
        metric = next(key for key in found[0] if key.startswith("test_") and key != "test_rows")
        scores = [run[metric] for run in found]
        kept = ", ".join(f"{run['best_epoch']} / {len(run['history'])}" for run in found)
        rows.append(
            f"| {table} | {recipe} | {' '.join(f'{s:.3f}' for s in scores)} | "
            f"{np.mean(scores):.3f} | {kept} | "
            f"{np.mean([run['fit_seconds'] for run in found]):.0f} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="realdata")
    parser.add_argument(
        "--task", choices=["classification", "regression"], default="classification"
    )
    parser.add_argument("--tables", nargs="+", help="default: every table of the suite")
    parser.add_argument(
        "--recipe",
        action="append",
        default=[],
        help='name=JSON of lift settings, e.g. long=\'{"training": {"epochs": 10}}\'',
    )
    parser.add_argument("--repeats", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--full",
        action="store_true",
        help="train every weight instead of LoRA adapters (classification; "
        "benchmarks/full_fine_tuning.py)",
    )
    parser.add_argument(
        "--epochs-answered",
        action="store_true",
        help="every epoch's adapter also answers the test rows; their scores are kept",
    )
    parser.add_argument("--out", type=Path, default=Path("recipe.jsonl"))
    parser.add_argument(
        "--summary", action="store_true", help="print --out as a table, run nothing"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.summary:
        print(summary(args.out))
        return

    if args.full and args.task != "classification":
        parser.error("--full fine-tunes classification tables (its epochs kept on accuracy)")
    if args.full and args.epochs_answered:
        parser.error("--epochs-answered records LoRA fits (the library's trainer)")
    recipes = dict(r.split("=", 1) for r in args.recipe)
    tables, suite_lift = suite(args.env, args.task)
    chosen = args.tables or list(tables)
    unknown = sorted(set(chosen) - set(tables))
    if unknown:
        parser.error(f"tables {unknown} are not in conf/{args.env}: {sorted(tables)}")
    done = {(run["table"], run["recipe"], run["repeat"]) for run in results(args.out)}
    data = {}
    for name in chosen:
        X, y = table_of(name, tables[name], args.task)
        stratify = y if args.task == "classification" else None
        data[name] = train_test_split(X, y, test_size=0.2, stratify=stratify, random_state=0)
    for recipe, text in recipes.items():  # every table for a recipe before the next recipe
        for name in chosen:
            X_fit, X_test, y_fit, y_test = data[name]
            runs = with_overrides(suite_lift, tables[name].get("lift", {}))
            lift = with_overrides(runs, json.loads(text))
            for repeat in args.repeats:
                if (name, recipe, repeat) in done:
                    continue
                if args.full:
                    import full_fine_tuning  # beside this file; imports what it trains with

                    fitted = full_fine_tuning.fit(lift, repeat, *data[name])
                else:
                    fitted = fit_adapter(args.task, lift, repeat, *data[name], args.epochs_answered)
                result = {"table": name, "recipe": recipe, "lift": lift, "repeat": repeat}
                result |= fitted
                with args.out.open("a") as file:
                    file.write(json.dumps(result, default=str) + "\n")
                metric = next(k for k in result if k.startswith("test_") and k != "test_rows")
                select_on = (
                    Classification if args.task == "classification" else Regression
                ).select_on
                curve = " ".join(f"{e[f'validation_{select_on}']:.3f}" for e in result["history"])
                print(
                    f"{name} {recipe} r{repeat}: {metric.replace('_', ' ')} "
                    f"{result[metric]:.4f}, kept epoch {result['best_epoch']}, validation "
                    f"{select_on} {curve}, {result['fit_seconds']:.0f} s",
                    flush=True,
                )


def fit_adapter(
    task: str, lift: dict, repeat: int, X_fit, X_test, y_fit, y_test, epochs_answered=False
) -> dict:
    """LIFT as the estimator fits it (``lift`` settings, seeded with ``repeat``) and its test
    score: the validation history, the epoch kept, the status, the seconds; with
    ``epochs_answered``, every epoch's answers too (``answered_each_epoch``)."""
    estimator = LIFTClassifier if task == "classification" else LIFTRegressor
    epochs: list[dict] = []
    if epochs_answered:  # the test rows written with the others, a split of their own
        estimator = with_test_split(estimator, len(y_fit))
        X_fit, y_fit = pd.concat([X_fit, X_test]), np.concatenate([y_fit, y_test])
    model = estimator(lift=lift, random_state=repeat)
    start = time.perf_counter()
    with answered_each_epoch(epochs) if epochs_answered else nullcontext():
        model.fit(X_fit, y_fit)
    fitted = time.perf_counter()
    answers = model.predict(X_test)
    if task == "classification":
        metric, score = "accuracy", float(np.mean(answers == y_test))
    else:
        metric, score = "rae", regression_scores(y_test, answers)["rae"]
    result = {
        "history": model.history_,
        "best_epoch": model.adapter_.best_epoch,
        "status": model.adapter_.status,
        f"test_{metric}": score,
        "test_rows": len(y_test),
        "fit_seconds": round(fitted - start, 1),
        "predict_seconds": round(time.perf_counter() - fitted, 1),
    }
    if epochs:
        for entry, answered in zip(result["history"], epochs, strict=True):
            entry[f"test_{metric}"] = answered.pop(f"test_{metric}")
        # the prompts of the encoding the adapter was trained with (one where a selection had many)
        prompts = learner.written_with(model.prompts_, model.adapter_.chosen.get("encoding"))
        result["epochs_answered"] = {
            "validation_targets": of_split(prompts, 0, "validation")["target"].tolist(),
            "test_targets": of_split(prompts, 0, "test")["target"].tolist(),
            "epochs": epochs,
        }
    return result


def with_test_split(estimator: type, fit_rows: int) -> type:
    """``estimator`` fitted on its rows followed by the test rows: the first ``fit_rows``
    split into training and validation rows as ever, the rest a test split, written as
    prompts with the others (by the encodings of the training rows) and never trained on."""

    class WithTestRows(estimator):
        def _splits(self, targets: np.ndarray) -> pd.DataFrame:
            splits = super()._splits(targets[:fit_rows])
            test = np.arange(fit_rows, len(targets))
            return pd.concat(
                [splits, pd.DataFrame({"row": test, "repeat": 0, "split": "test"})],
                ignore_index=True,
            )

    WithTestRows.__name__ = estimator.__name__
    return WithTestRows


@contextmanager
def answered_each_epoch(epochs: list[dict]) -> Iterator[None]:
    """While a fit runs, each epoch's adapter answers the test split as it answers the
    validation rows; appended to ``epochs``: the test score and both splits' class scores
    (log-probabilities, unrounded: near-ties decide rows) or, for numbers, predictions. The
    trainer's choice of epoch sees the validation metrics only, as without it."""
    job_of, answer = learner._job, learner.answer

    def kept(answers: Answers) -> list:
        if answers.scores is not None:
            return np.asarray(answers.scores, dtype=float).tolist()
        return np.asarray(answers.predictions, dtype=float).tolist()

    def job(tokenizer, request, plan):
        made = job_of(tokenizer, request, plan)
        encoding = plan.settings.chosen()["encoding"]
        prompts = learner.written_with(request.prompts, encoding)
        train = of_split(prompts, plan.repeat, "train")
        test = of_split(prompts, plan.repeat, "test")
        task = learner.for_repeat(request.task, request.encodings, plan.repeat, encoding)
        tests = learner.validator(tokenizer, test, train, task, plan.settings)  # as validation
        metric = "accuracy" if isinstance(task, Classification) else "rae"

        def validate(model) -> dict[str, float]:
            seen: list[Answers] = []

            def recorded(*args, **kwargs) -> Answers:
                seen.append(answer(*args, **kwargs))
                return seen[-1]

            learner.answer = recorded
            try:
                scores, tested = made.validate(model), tests(model)
            finally:
                learner.answer = answer
            validation, test_answers = seen
            epochs.append(
                {
                    f"test_{metric}": tested[metric],
                    "validation": kept(validation),
                    "test": kept(test_answers),
                }
            )
            return scores

        return replace(made, validate=validate)

    learner._job = job
    try:
        yield
    finally:
        learner._job = job_of


if __name__ == "__main__":
    main()
