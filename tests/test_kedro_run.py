"""`kedro run` as a user runs it, in a subprocess, on a temporary copy of the project with small
datasets: one bundled, one synthetic and one CSV file declared in the catalog."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import METRICS_COLUMNS, build_tiny_model, make_mixed_table

PROJECT = Path(__file__).resolve().parents[1]


def kedro(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "kedro", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    for item in ("conf", "src"):
        shutil.copytree(PROJECT / item, root / item, ignore=shutil.ignore_patterns("__pycache__"))
    for item in ("pyproject.toml", ".telemetry"):
        shutil.copy(PROJECT / item, root / item)
    parameters_file = root / "conf/base/parameters_classification.yml"
    parameters = yaml.safe_load(parameters_file.read_text())
    base = parameters["classification"]["datasets"]
    parameters["classification"]["datasets"] = {
        "iris": base["iris"],
        "moons": {**base["moons"], "source": {**base["moons"]["source"], "n_samples": 300}},
        "mine": {"source": {"kind": "file"}, "target": "kind", "drop_columns": ["noise"]},
    }
    parameters["classification"]["lift"]["training"].update(learning_rate=0.03, epochs=2)
    parameters["classification"]["lift"]["lora"].update(rank=4, alpha=8)
    parameters_file.write_text(yaml.safe_dump(parameters))
    regression_file = root / "conf/base/parameters_regression.yml"
    regression = yaml.safe_load(regression_file.read_text())["regression"]
    small = {"n_train": 40, "n_validation": 10, "n_test": 20}
    regression["datasets"] = {
        "linear_p1": {"source": {"kind": "synthetic", "name": "linear", "p": 1, **small}},
        "diabetes": regression["datasets"]["diabetes"],
        "mine": {"source": {"kind": "file"}, "target": "signal", "drop_columns": ["kind"]},
    }
    regression["lift"]["training"].update(learning_rate=0.03, epochs=2)
    regression["lift"]["lora"].update(rank=4, alpha=8)
    regression["extrapolation"]["points"] = 9
    regression["baselines"]["models"] = {
        name: regression["baselines"]["models"][name]
        for name in ("mean", "polynomial", "knn", "gaussian_process")
    }
    regression_file.write_text(yaml.safe_dump({"regression": regression}))
    # a tiny model instead of the embedded one: the real model has its own end-to-end test
    model_dir = build_tiny_model(root / "tiny_model")
    lift_file = root / "conf/base/parameters_lift.yml"
    lift_parameters = yaml.safe_load(lift_file.read_text())
    lift_parameters["lift"]["model"]["name"] = model_dir
    lift_file.write_text(yaml.safe_dump(lift_parameters))
    (root / "data/01_raw").mkdir(parents=True)
    make_mixed_table().to_csv(root / "data/01_raw/mine.csv", index=False)
    with (root / "conf/base/catalog.yml").open("a") as catalog:
        catalog.write(
            "\nclassification.mine.raw_table:\n  type: pandas.CSVDataset\n"
            "  filepath: data/01_raw/mine.csv\n"
            "\nregression.mine.raw_table:\n  type: pandas.CSVDataset\n"
            "  filepath: data/01_raw/mine.csv\n"
        )
    return root


def versions(path: Path) -> list[Path]:
    return sorted(path.iterdir()) if path.exists() else []


def test_kedro_run_writes_every_artifact_and_the_metrics_table(project):
    result = kedro(project, "run", "--pipelines=classification")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    reporting = project / "data/08_reporting/classification"
    (metrics_version,) = versions(reporting / "metrics.csv")
    metrics = pd.read_csv(metrics_version / "metrics.csv")
    assert METRICS_COLUMNS | {"balanced_accuracy", "invalid_rate"} <= set(metrics.columns)
    assert set(metrics["dataset"]) == {"iris", "moons", "mine"}
    assert len(metrics) == 3 * 9  # the eight baselines of the default configuration, and lift
    assert set(metrics.loc[metrics["model"] == "lift", "invalid_rate"].between(0, 1)) == {True}
    by_key = metrics.set_index(["dataset", "model"])
    assert by_key.loc[("iris", "logistic_regression"), "accuracy"] >= 0.9
    assert by_key.loc[("moons", "xgboost"), "accuracy"] >= 0.9
    assert (metrics["repeats"] == 1).all()

    (plot_version,) = versions(reporting / "metrics.png")
    assert (plot_version / "metrics.png").read_bytes()[:4] == b"\x89PNG"
    for layer, artifact in [
        ("01_raw", "iris/raw_table.parquet"),
        ("01_raw", "moons/source_info.json"),
        ("03_primary", "mine/table.parquet"),
        ("03_primary", "mine/schema.json"),
        ("05_model_input", "iris/splits.parquet"),
        ("06_models", "moons/baseline_models.pkl"),
        ("07_model_output", "mine/baseline_predictions.parquet"),
        ("08_reporting", "iris/scores.csv"),
        ("05_model_input", "moons/prompts.parquet"),
        ("06_models", "mine/adapters"),
        ("07_model_output", "iris/lift_predictions.parquet"),
    ]:
        assert len(versions(project / "data" / layer / "classification" / artifact)) == 1, artifact
    (base_model,) = versions(project / "data/06_models/base_model.json")
    assert "tiny_model" in (base_model / "base_model.json").read_text()
    (adapters,) = versions(project / "data/06_models/classification/iris/adapters")
    assert (adapters / "adapters/repeat_0/adapter_model.safetensors").is_file()
    # the printed summary at the end of the run
    assert "classification.metrics: test accuracy (%)" in result.stdout
    assert "logistic_regression" in result.stdout


def test_kedro_run_regression_writes_rae_metrics_and_the_extrapolation_plot(project):
    result = kedro(project, "run", "--pipelines=regression")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    reporting = project / "data/08_reporting/regression"
    (metrics_version,) = versions(reporting / "metrics.csv")
    metrics = pd.read_csv(metrics_version / "metrics.csv")
    assert {"dataset", "model", "rae", "rae_std", "rmse", "r2", "invalid_rate", "repeats"} <= set(
        metrics.columns
    )
    assert set(metrics["dataset"]) == {"linear_p1", "diabetes", "mine"}
    assert len(metrics) == 3 * 5  # four baselines and lift
    by_key = metrics.set_index(["dataset", "model"])
    assert by_key.loc[("linear_p1", "polynomial"), "rae"] < 0.1
    assert by_key.loc[("diabetes", "gaussian_process"), "rae"] < 0.9
    (plot,) = versions(reporting / "linear_p1/extrapolation.png")
    assert (plot / "extrapolation.png").read_bytes()[:4] == b"\x89PNG"
    assert not (reporting / "diabetes/extrapolation.png").exists()  # ten features: no plot
    (grid,) = versions(
        project / "data/05_model_input/regression/linear_p1/extrapolation_grid.parquet"
    )
    assert len(pd.read_parquet(grid / "extrapolation_grid.parquet")) == 9
    assert "regression.metrics: test RAE" in result.stdout


def test_a_second_run_adds_versions_and_keeps_the_first(project):
    metrics_dir = project / "data/08_reporting/classification/metrics.csv"
    (first,) = versions(metrics_dir)
    first_content = (first / "metrics.csv").read_text()
    # the spelling users already know still works
    result = kedro(project, "run", "--pipeline=classification")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert len(versions(metrics_dir)) == 2
    assert (first / "metrics.csv").read_text() == first_content
    # same seeds, same data: the same results
    second = versions(metrics_dir)[1] / "metrics.csv"
    assert second.read_text() == first_content


def test_an_environment_adds_datasets_and_switches_others_off(project):
    extra = project / "conf/extra"
    extra.mkdir()
    (extra / "parameters_classification.yml").write_text(
        "classification:\n"
        "  datasets:\n"
        "    moons: null\n"
        "    mine: null\n"
        "    small_blobs:\n"
        "      source: {kind: synthetic, name: blobs, n_samples: 200, seed: 1}\n"
    )
    result = kedro(project, "run", "--pipelines=classification", "--env=extra")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    latest = versions(project / "data/08_reporting/classification/metrics.csv")[-1]
    assert set(pd.read_csv(latest / "metrics.csv")["dataset"]) == {"iris", "small_blobs"}


def test_a_bad_target_stops_the_run_with_a_clear_message(project, tmp_path):
    result = kedro(
        project,
        "run",
        "--pipelines=classification",
        "--params=classification.datasets.mine.target=species",
    )
    assert result.returncode != 0
    assert "Dataset 'mine' has no target column 'species'" in result.stdout + result.stderr
