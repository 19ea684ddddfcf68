"""The documentation: the site builds with no broken link, the README stays short, and the
default run's figures have one source (docs/performance.json, which `make bench` writes)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs", reason="the [docs] extra builds the site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert built.returncode == 0, built.stderr[-3000:]
    parameters = (tmp_path / "reference/parameters/index.html").read_text()
    for generated in ("training.min_steps", "serialization.target_encoding", "sample_seed"):
        assert generated in parameters
    assert "LIFTClassifier" in (tmp_path / "reference/api/index.html").read_text()


def test_the_readme_is_read_in_five_minutes():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


def default_run() -> dict:
    return json.loads((ROOT / "docs/performance.json").read_text())["default_run"]


def test_the_readmes_expected_output_is_the_measured_default_run():
    table = re.search(r"```\nclassification\.metrics.*?```", (ROOT / "README.md").read_text(), re.S)
    lines = table.group(0).splitlines()
    models = lines[2].split()[1:]
    printed = {
        (row.split()[0], model): float(value)
        for row in lines[4:-1]
        for model, value in zip(models, row.split()[1:], strict=True)
    }
    measured = {(r["dataset"], r["model"]): 100 * r["accuracy"] for r in default_run()["metrics"]}
    assert printed.keys() <= measured.keys() and ("iris", "lift") in printed
    for key, value in printed.items():
        assert value == pytest.approx(measured[key], abs=0.006), key


DURATION = re.compile(r"\b\d+(?:[.:]\d+)? ?(?:s|min|minutes|seconds)\b|\b\d+:\d\d\b")
DEFAULT_RUN = re.compile(r"make run(?![-\w])|default run|`kedro run --pipelines=classification`")


def test_the_default_runs_time_is_stated_once():
    """Only the page that measured it (docs/performance.md) says how long the default run
    took; every other page links there."""
    stated = []
    for page in PAGES:
        if page.name in ("performance.md", "cpu-training.md"):
            continue  # the pages that measured it and its training
        for paragraph in re.split(r"\n\s*\n|\n- ", page.read_text()):
            if DEFAULT_RUN.search(paragraph) and DURATION.search(paragraph):
                stated.append(f"{page.relative_to(ROOT)}: {DURATION.search(paragraph).group(0)}")
    assert stated == []


def test_the_recipe_studys_tables_are_read_from_its_results(tmp_path):
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        from hooks import recipe_study
    finally:
        sys.path.remove(str(ROOT / "docs"))

    def fit(table, recipe, repeat, score, seconds, metric="test_accuracy"):
        return {"table": table, "recipe": recipe, "repeat": repeat, metric: score,
                "fit_seconds": seconds}  # fmt: skip

    results = tmp_path / "recipe.jsonl"
    fits = [
        fit("wine", "short", 0, 0.75, 10), fit("wine", "short", 1, 0.80, 20),
        fit("wine", "long", 0, 0.90, 40), fit("glass", "short", 0, 0.5, 30),
        fit("crabs", "short", 0, 0.6, 6), fit("crabs", "long", 0, 0.7, 8),
        fit("auto", "long", 0, 0.45, 50, "test_rae"), fit("auto", "short", 0, 0.47, 5, "test_rae"),
    ]  # fmt: skip
    results.write_text("".join(json.dumps(f) + "\n" for f in fits))
    table = recipe_study(["short", "long"], path=results).splitlines()
    assert table[:2] == ["| table | short | long |", "|---|---|---|"]
    assert table[2] == "| wine | 77.50 (75.0, 80.0) | **90.00** |"
    assert table[3] == "| glass | 50.00 | not run |"
    assert table[4] == "| crabs | 60.00 | **70.00** |"
    assert table[5] == "| auto | 0.470 | **0.450** |"  # lower is better
    assert table[6:] == [
        "| mean of wine, crabs | 68.75 | 80.00 |",  # accuracies only
        "| seconds a fit (mean of wine, crabs, auto) | 10 | 33 |",
    ]
    assert recipe_study(["short"], ["glass"], results).splitlines()[2:] == [
        "| glass | 50.00 |", "| seconds a fit (mean of glass) | 30 |",
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"\['other'\] are not in recipe.jsonl"):
        recipe_study(["short", "other"], path=results)


def test_the_ways_of_choosing_the_epoch_are_scored_on_the_test_rows(tmp_path):
    """``benchmarks/epoch_choice.py``'s table (the docs' ``<!-- epoch-choice -->``): each way
    picks its epochs from the validation figures, then scores them on the test rows."""
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        from hooks import epoch_choice
    finally:
        sys.path.remove(str(ROOT / "docs"))

    right, wrong, unsure = [0.0, -3.0], [-3.0, 0.0], [-0.6, -0.8]  # log-scores, class 0 true
    epochs = [  # (validation accuracy, validation loss, test accuracy, each test row's scores)
        (0.50, 0.9, 0.00, [wrong, wrong]),
        (0.75, 0.5, 0.50, [right, wrong]),
        (0.75, 0.4, 1.00, [right, unsure]),  # the library's: best accuracy, then lower loss
        (0.50, 0.3, 0.50, [unsure, wrong]),  # the lowest loss
    ]
    fit = {
        "table": "crabs", "repeat": 0, "best_epoch": 3, "test_accuracy": 1.0,
        "history": [
            {"validation_accuracy": a, "validation_loss": loss, "test_accuracy": t}
            for a, loss, t, _ in epochs
        ],
        "epochs_answered": {
            "validation_targets": [0, 1], "test_targets": [0, 0],
            "epochs": [{"validation": [right, wrong], "test": s} for *_, s in epochs],
        },
    }  # fmt: skip
    results = tmp_path / "epochs.jsonl"
    results.write_text(json.dumps(fit) + "\n" + json.dumps({"table": "wine"}) + "\n")
    header, _, row, mean = (
        line.strip("| ").split(" | ") for line in epoch_choice(results).splitlines()
    )
    cells = dict(zip(header, row, strict=True))
    assert header[2:5] == ["validation accuracy", "validation loss", "last"]
    assert cells["validation accuracy"] == cells["prior corrected"] == "100.00"
    assert cells["validation loss"] == cells["last"] == "50.00"
    assert cells["mean of best 3"] == "50.00"  # epochs 3, 2 and 4 (of 0.50 the lower loss)
    assert cells["mean of last half"] == "50.00"  # epochs 3 and 4: the second row wrong
    assert cells["hindsight"] == "100.00"
    assert mean[0] == "mean of 1"
    fit["best_epoch"] = 2  # a run that kept another epoch than the ranking gives: an error
    results.write_text(json.dumps(fit) + "\n")
    with pytest.raises(ValueError, match="kept epoch 2, the ranking here says 3"):
        epoch_choice(results)


def test_the_repeats_of_a_table_are_averaged_into_one_answer(tmp_path):
    """``<!-- epoch-choice: repeats averaged -->``: each repeat's adapter scored alone (its kept
    epoch, its last) against the class probabilities of the table's repeats averaged."""
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        from hooks import epoch_choice
    finally:
        sys.path.remove(str(ROOT / "docs"))

    sure, wrong, unsure = [0.0, -5.0], [-2.0, -0.2], [-0.2, -2.0]  # log-scores, class 0 true

    def fit(repeat: int, kept: list, last: list) -> dict:
        epochs = [(0.9, kept), (0.5, last)]  # the first epoch the better on validation
        return {
            "table": "crabs", "repeat": repeat, "best_epoch": 1, "test_accuracy": 0.5,
            "history": [
                {"validation_accuracy": a, "validation_loss": 0.1, "test_accuracy": 0.5}
                for a, _ in epochs
            ],
            "epochs_answered": {
                "validation_targets": [0], "test_targets": [0, 0],
                "epochs": [{"validation": [sure], "test": s} for _, s in epochs],
            },
        }  # fmt: skip

    # each kept adapter gets one row of two right; averaged, the sure right answer outweighs
    # the other repeat's wrong one on each row. The last epochs are wrong on the second row
    # in both repeats, averaged too
    fits = [fit(0, [sure, wrong], [unsure, wrong]), fit(1, [wrong, sure], [sure, wrong])]
    results = tmp_path / "epochs.jsonl"
    results.write_text("".join(json.dumps(f) + "\n" for f in fits))
    header, _, row, mean = (
        line.strip("| ").split(" | ") for line in epoch_choice(results, averaged=True).splitlines()
    )
    assert header[0] == "table" and row[:2] == ["crabs", "2"]
    assert row[2:] == ["50.00", "100.00", "50.00", "50.00"]
    assert mean[0] == "mean of 1"
