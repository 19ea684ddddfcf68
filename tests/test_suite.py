"""The held-in suite read against its baselines (``lift.evaluation.suite``) and the results
that docs/real-data.md and the README are built from (``benchmarks/realdata.py``)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lift.evaluation import published
from lift.evaluation.suite import against_baselines

ROOT = Path(__file__).resolve().parents[1]


def scores_of(dataset: str, accuracies: dict[str, list[float]], **extra) -> pd.DataFrame:
    """Rows as a run's scores.csv has them: a model's accuracy on each repeat."""
    rows = []
    for model, values in accuracies.items():
        for repeat, value in enumerate(values):
            status = "learnt" if model.startswith("lift") else ""
            rows.append(
                {"dataset": dataset, "model": model, "repeat": repeat, "n_train": 100,
                 "n_validation": 25, "n_test": 36, "answers": "", "lift_status": status,
                 "accuracy": value, "f1_macro": value, "balanced_accuracy": value,
                 "log_loss": 0.5, "ece": 0.1, "invalid_rate": 0.0, **extra}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_each_table_is_read_against_its_best_baseline():
    wine = scores_of(
        "wine",
        {
            "majority": [0.3889] * 3,
            "logistic_regression": [1.0, 1.0, 1.0],
            "xgboost": [0.9722] * 3,
            "lift": [0.9167, 0.8889, 0.9722],
            "lift_corrected": [1.0, 1.0, 1.0],  # LIFT's, never a baseline
            "lift_averaged": [0.9722],
        },
    )
    glass = scores_of(
        "glass",
        {"majority": [0.35] * 3, "random_forest": [0.70, 0.80, 0.75], "lift": [0.72] * 3},
    )
    rows = against_baselines(
        pd.concat([wine, glass]),
        "classification",
        0.05,
        published.of_task("classification"),
        published.of_task("classification", spread=True),
    ).set_index("dataset")
    assert list(rows.index) == ["wine", "glass"]
    wine_row = rows.loc["wine"]
    assert wine_row["best_baseline"] == "logistic_regression"
    assert wine_row["lift"] == pytest.approx(0.9259, abs=1e-4)
    assert wine_row["lift_each"] == [0.9167, 0.8889, 0.9722]
    assert wine_row["lift_averaged"] == 0.9722
    assert wine_row["no_skill"] == 0.3889 and wine_row["repeats"] == 3
    assert not wine_row["within"] and wine_row["within_averaged"]  # 7.4 and 2.8 points behind
    assert (wine_row["paper_lift"], wine_row["paper_lift_sd"]) == (0.9352, 0.0131)
    assert rows.loc["glass", "within"]  # 3 points behind the forest's mean of 0.75
    assert not rows.loc["glass", "within_averaged"]  # its run averaged no repeats
    assert np.isnan(rows.loc["glass", "paper_lift"]) and np.isnan(
        rows.loc["glass", "lift_averaged"]
    )


def test_regression_is_within_its_margin_below_the_best_error():
    boston = pd.DataFrame(
        [
            {"dataset": "boston", "model": m, "repeat": r, "n_train": 300, "n_validation": 80,
             "n_test": 100, "lift_status": "learnt" if m == "lift" else "",
             "rae": v, "rmse": v, "mae": v, "r2": 1 - v, "invalid_rate": 0.0}
            for m, values in {"mean": [1.0] * 3, "gaussian_process": [0.42, 0.46, 0.44],
                              "polynomial": [2.9, 5.6, 4.1], "lift": [0.52, 0.50, 0.54]}.items()
            for r, v in enumerate(values)
        ]
    )  # fmt: skip
    row = against_baselines(boston, "regression", 0.1).iloc[0]
    assert row["best_baseline"] == "gaussian_process"  # the lowest error, not the highest
    assert row["lift"] == pytest.approx(0.52) and row["within"]  # 0.08 behind
    assert not against_baselines(boston, "regression", 0.05).iloc[0]["within"]


def test_a_table_without_lift_rows_names_itself():
    crabs = scores_of("crabs", {"majority": [0.5], "svm": [1.0]})
    with pytest.raises(ValueError, match="scores of 'crabs' have no LIFT rows"):
        against_baselines(crabs, "classification", 0.05)


@pytest.fixture
def realdata():
    spec = importlib.util.spec_from_file_location("realdata", ROOT / "benchmarks/realdata.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def saved_run(data: Path, table: str, version: str, scores: pd.DataFrame, seconds: float) -> None:
    """A run's saved scores and timings, in Kedro's versioned layout."""
    folder = data / "08_reporting/classification" / table / "scores.csv" / version
    folder.mkdir(parents=True)
    scores.to_csv(folder / "scores.csv", index=False)
    timings = data / "08_reporting/run_timings.json" / version
    timings.mkdir(parents=True)
    (timings / "run_timings.json").write_text(json.dumps({"total_seconds": seconds}))


def test_the_suites_results_are_collected_and_shown(realdata, tmp_path):
    data, results = tmp_path / "data", tmp_path / "results"
    old = scores_of("wine", {"majority": [0.39] * 3, "svm": [1.0] * 3, "lift": [0.5] * 3})
    new = scores_of("wine", {"majority": [0.39] * 3, "svm": [1.0] * 3, "lift": [0.97, 1.0, 0.97]})
    saved_run(data, "wine", "2026-12-04T20.00.00.000Z", old, 100.0)
    saved_run(data, "wine", "2026-12-05T01.00.00.000Z", new, 4321.4)
    runs = realdata.collect(data, "classification", ["wine"], "abc1234", results)
    [run] = runs["classification/wine"]
    assert run["version"] == "2026-12-05T01.00.00.000Z"  # the newest
    assert (run["seconds"], run["commit"], run["repeats"]) == (4321, "abc1234", [0, 1, 2])
    assert run["command"].endswith("--namespaces=classification.wine")  # the suite's repeats
    saved = data / "08_reporting/classification/wine/scores.csv/2026-12-05T01.00.00.000Z"
    assert (results / "classification/wine.csv").read_bytes() == (saved / "scores.csv").read_bytes()

    table = realdata.table("classification", results).splitlines()
    wine = next(line for line in table if line.startswith("| wine |"))
    assert wine.startswith(
        "| wine | 3 | 39.00 | svm 100.00 ± 0.00 | **98.00 ± 1.41** (97.0, 100.0, 97.0)"
    )
    assert wine.endswith("| 93.52 ± 1.31 | yes, no |")  # the paper's GPT-J on wine
    assert "| glass | not run with these settings yet |" + " |" * 6 in table  # all the suite
    sentence = next(line for line in table if line.startswith("Accuracy %"))
    assert (
        "within 5 points of the best baseline on 1 of the 1 classification tables run (wine)"
        in sentence
    )
    assert "not run with these settings yet: breast_cancer, pima" in sentence
    assert "| wine | 0, 1, 2 | 2026-12-05T01.00.00.000Z | 4321 | abc1234 |" in "\n".join(table)

    assert realdata.draw("classification", results, tmp_path).name == "realdata_classification.png"
    assert realdata.draw("regression", results, tmp_path) is None  # none collected

    readme = tmp_path / "README.md"
    readme.write_text("# t\n\n<!-- realdata-summary -->\nold\n<!-- /realdata-summary -->\nend\n")
    realdata.write_readme(readme, results)
    text = readme.read_text()
    assert "old" not in text and text.endswith("<!-- /realdata-summary -->\nend\n")
    assert "No regression table has run with these settings yet (diabetes" in " ".join(text.split())

    with pytest.raises(ValueError, match=r"\['penguins'\] are not classification tables"):
        realdata.collect(data, "classification", ["penguins"], "", results)
    with pytest.raises(FileNotFoundError, match="glass.*no saved version"):
        realdata.collect(data, "classification", ["glass"], "", results)


def answers_of(repeat: int, proba_1: list[float]) -> pd.DataFrame:
    """A repeat's LIFT predictions on four test rows as the pipeline saves them (classes
    scored: ``lift`` and its prior-corrected ``lift_corrected``)."""
    proba_1 = np.array(proba_1)
    rows = {
        "repeat": repeat, "row": [3, 5, 8, 13], "y_true": [0, 1, 0, 1],
        "y_pred": (proba_1 > 0.5).astype(int), "output": "", "valid": True,
        "answers": "score", "lift_status": "learnt", "proba_0": 1 - proba_1, "proba_1": proba_1,
    }  # fmt: skip
    return pd.concat(
        [pd.DataFrame({"model": model, **rows}) for model in ("lift", "lift_corrected")],
        ignore_index=True,
    )


def test_a_tables_repeats_run_in_several_sittings_are_put_together(realdata, tmp_path):
    data, results = tmp_path / "data", tmp_path / "results"

    def run(version: str, accuracies: dict, answers: list) -> None:
        """A run's saved scores and LIFT answers; ``answers``: (repeat, probabilities)."""
        scores = scores_of("wine", accuracies, n_test=4)
        if len(answers) > 1:  # the run's own average, which the put-together one replaces
            scores = pd.concat([scores, scores_of("wine", {"lift_averaged": [0.75]}, n_test=4)])
        # scores_of numbers the repeats from 0
        scores = scores.assign(repeat=scores["repeat"] + answers[0][0])
        saved_run(data, "wine", version, scores, 600.0)
        folder = data / "07_model_output/classification/wine/lift_predictions.parquet" / version
        folder.mkdir(parents=True)
        predictions = pd.concat([answers_of(r, p) for r, p in answers], ignore_index=True)
        predictions.to_parquet(folder / "lift_predictions.parquet")

    every = [[0.2, 0.9, 0.6, 0.4], [0.4, 0.7, 0.3, 0.2], [0.1, 0.8, 0.7, 0.45]]
    run(
        "2026-12-05T10.00.00.000Z",
        {"majority": [0.5] * 2, "svm": [1.0] * 2, "lift": [1.0, 0.75]},
        [(0, every[0]), (1, every[1])],
    )
    realdata.collect(data, "classification", ["wine"], "aaa1111", results)
    answers = pd.read_parquet(results / "classification/wine.answers.parquet")
    assert set(answers["model"]) == {"lift"} and sorted(answers["repeat"].unique()) == [0, 1]
    assert "fewer than 3 repeats so far: wine (2);" in realdata.count(
        "classification", results=results
    )

    run(
        "2026-12-06T10.00.00.000Z",
        {"majority": [0.5], "svm": [1.0], "lift": [0.5]},
        [(2, every[2])],
    )
    runs = realdata.collect(data, "classification", ["wine"], "bbb2222", results, merge=True)
    scores = pd.read_csv(results / "classification/wine.csv")
    lift = scores[scores["model"] == "lift"]
    assert lift["repeat"].tolist() == [0, 1, 2] and lift["accuracy"].tolist() == [1.0, 0.75, 0.5]
    assert scores.groupby("model").size().to_dict() == {
        "lift": 3, "lift_averaged": 1, "majority": 3, "svm": 3,
    }  # fmt: skip
    # the three repeats' probabilities averaged: 0.23, 0.8, 0.53, 0.35 answer 0, 1, 1, 0
    averaged = scores[scores["model"] == "lift_averaged"].iloc[0]
    assert averaged["accuracy"] == 0.5 and averaged["repeat"] == 0
    assert averaged["answers"] == "score, 3 repeats averaged" and averaged["n_test"] == 4
    assert [(r["commit"], r["repeats"]) for r in runs["classification/wine"]] == [
        ("aaa1111", [0, 1]),
        ("bbb2222", [2]),
    ]
    assert runs["classification/wine"][1]["command"].endswith(
        "--params=classification.split.first_repeat=2,classification.split.repeats=1"
    )
    assert runs["classification/wine"][0]["command"].endswith(
        "--namespaces=classification.wine --params=classification.split.repeats=2"
    )
    table = realdata.table("classification", results)
    assert "repeats so far" not in table
    assert (
        "| wine | 3 | 50.00 | svm 100.00 ± 0.00 | 75.00 ± 20.41 (100.0, 75.0, 50.0) | 50.00 |"
        in table
    )
    assert "| wine | 0, 1 | 2026-12-05T10.00.00.000Z | 600 | aaa1111 |" in table
    assert "| wine | 2 | 2026-12-06T10.00.00.000Z | 600 | bbb2222 |" in table

    # repeat 1 again: it replaces the first run's
    run("2026-12-07T10.00.00.000Z", {"lift": [0.25]}, [(1, every[1])])
    runs = realdata.collect(data, "classification", ["wine"], "ccc3333", results, merge=True)
    assert [(r["commit"], r["repeats"]) for r in runs["classification/wine"]] == [
        ("aaa1111", [0]),
        ("bbb2222", [2]),
        ("ccc3333", [1]),
    ]
    lift = pd.read_csv(results / "classification/wine.csv").query("model == 'lift'")
    assert lift.sort_values("repeat")["accuracy"].tolist() == [1.0, 0.25, 0.5]

    # another split's test rows are not put together with these
    scores = scores_of("wine", {"lift": [0.25]}, n_test=5).assign(repeat=1)
    saved_run(data, "wine", "2026-12-09T10.00.00.000Z", scores, 60.0)
    with pytest.raises(ValueError, match="wine: the collected repeats answered .4. test rows"):
        realdata.collect(data, "classification", ["wine"], "ddd4444", results, merge=True)


def test_the_readmes_summary_is_built_from_the_collected_results(realdata):
    text = (ROOT / "README.md").read_text()
    start, end = realdata.README_MARKERS
    block = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert block == realdata.summary(), (
        "rebuild it: `.venv/bin/python benchmarks/realdata.py readme`"
    )
