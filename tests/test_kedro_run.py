"""`kedro run` as a user runs it, in a subprocess, on a temporary copy of the project with small
datasets: one bundled, one synthetic and one CSV file declared in the catalog."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import yaml

from conftest import (
    METRICS_COLUMNS,
    PROJECT,
    copy_project,
    kedro,
    kedro_ok,
    make_mixed_table,
    python_module,
)

STUDY_PIPELINES = (
    "sample_complexity",
    "label_noise",
    "class_imbalance",
    "decision_boundaries",
    "inductive_bias",
    "feature_names",
    "pretraining",
    "in_context",
    "two_stage",
    "uncertainty",
    "image_robustness",
)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("project"))
    parameters_file = root / "conf/base/parameters_classification.yml"
    parameters = yaml.safe_load(parameters_file.read_text())
    base = parameters["classification"]["datasets"]
    parameters["classification"]["datasets"] = {
        "iris": base["iris"],
        "moons": {**base["moons"], "source": {**base["moons"]["source"], "n_samples": 300}},
        "mine": {"source": {"kind": "file"}, "target": "kind", "drop_columns": ["noise"]},
    }
    parameters_file.write_text(yaml.safe_dump(parameters))
    regression_file = root / "conf/base/parameters_regression.yml"
    regression = yaml.safe_load(regression_file.read_text())["regression"]
    small = {"n_train": 40, "n_validation": 10, "n_test": 20}
    regression["datasets"] = {
        "linear_p1": {"source": {"kind": "synthetic", "name": "linear", "p": 1, **small}},
        "diabetes": regression["datasets"]["diabetes"],
        "mine": {"source": {"kind": "file"}, "target": "signal", "drop_columns": ["kind"]},
    }
    regression["extrapolation"]["points"] = 9
    regression["baselines"]["models"] = {
        name: regression["baselines"]["models"][name]
        for name in ("mean", "polynomial", "knn", "gaussian_process")
    }
    regression_file.write_text(yaml.safe_dump({"regression": regression}))
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


def only_metrics(project: Path, task: str) -> pd.DataFrame:
    """The metrics table of ``task``'s one run so far."""
    (version,) = versions(project / f"data/08_reporting/{task}/metrics.csv")
    return pd.read_csv(version / "metrics.csv")


def test_kedro_run_writes_every_artifact_and_the_metrics_table(project):
    result = kedro_ok(project, "run", "--pipelines=classification")

    reporting = project / "data/08_reporting/classification"
    metrics = only_metrics(project, "classification")
    assert METRICS_COLUMNS | {"balanced_accuracy", "invalid_rate"} <= set(metrics.columns)
    assert set(metrics["dataset"]) == {"iris", "moons", "mine"}
    # the eight baselines of the default configuration, lift and lift with the prior corrected
    assert len(metrics) == 3 * 10
    assert set(metrics.loc[metrics["model"] == "lift", "invalid_rate"].between(0, 1)) == {True}
    # how the answers were produced, so that a 0 invalid_rate of scoring is not misread
    answers = metrics.set_index("model")["answers"].fillna("")
    assert set(answers[["lift", "lift_corrected"]]) == {"score"}
    assert set(answers.drop(["lift", "lift_corrected"])) == {""}
    by_key = metrics.set_index(["dataset", "model"])
    assert by_key.loc[("iris", "logistic_regression"), "accuracy"] >= 0.9
    assert by_key.loc[("moons", "xgboost"), "accuracy"] >= 0.9
    assert (metrics["repeats"] == 1).all()

    (plot_version,) = versions(reporting / "metrics.png")
    assert (plot_version / "metrics.png").read_bytes()[:4] == b"\x89PNG"
    for layer, artifact in [
        ("01_raw", "iris/settings.json"),
        ("01_raw", "iris/raw_table.parquet"),
        ("01_raw", "moons/source_info.json"),
        ("03_primary", "mine/table.parquet"),
        ("03_primary", "mine/schema.json"),
        ("05_model_input", "iris/splits.parquet"),
        ("06_models", "moons/baseline_models.pkl"),
        ("07_model_output", "mine/baseline_predictions.parquet"),
        ("08_reporting", "iris/scores.csv"),
        ("08_reporting", "mine/calibration.png"),
        ("05_model_input", "moons/prompts.parquet"),
        ("06_models", "mine/adapters"),
        ("07_model_output", "iris/lift_predictions.parquet"),
    ]:
        assert len(versions(project / "data" / layer / "classification" / artifact)) == 1, artifact
    # the settings each dataset ran with: the task's, with its own overrides (moons: 5 epochs)
    (settings,) = versions(project / "data/01_raw/classification/moons/settings.json")
    moons = json.loads((settings / "settings.json").read_text())
    assert moons["lift"]["training"] == {**moons["lift"]["training"], "epochs": 5, "seed": 0}
    assert moons["source"] == {
        "kind": "synthetic",
        "name": "moons",
        "n_samples": 300,
        "seed": 123,
        "noise": 0.1,
    }
    (base_model,) = versions(project / "data/06_models/base_model.json")
    assert "tiny_model" in (base_model / "base_model.json").read_text()
    (adapters,) = versions(project / "data/06_models/classification/iris/adapters")
    assert (adapters / "adapters/repeat_0/adapter_model.safetensors").is_file()
    (timings,) = versions(project / "data/08_reporting/run_timings.json")
    phases = json.loads((timings / "run_timings.json").read_text())["phases"]
    assert phases["training"] > 0 and phases["prediction"] > 0 and phases["baselines"] > 0
    # the printed summary at the end of the run
    assert "classification.metrics: test accuracy (%)" in result.stdout
    assert "Run time by phase" in result.stdout
    assert "logistic_regression" in result.stdout


def mlflow_runs(project: Path) -> list:
    """The MLflow runs of the project's tracking database, newest first."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'data/mlflow/mlflow.db'}")
    experiment = client.get_experiment_by_name("lift")
    return client, client.search_runs([experiment.experiment_id], order_by=["start_time DESC"])


def test_the_run_is_tracked_in_mlflow(project):
    # the classification run of the first test, read back with MLflow's own client
    client, runs = mlflow_runs(project)
    (run,) = [r for r in runs if r.data.tags.get("pipeline_names") == "['classification']"]
    assert run.info.status == "FINISHED"
    params = run.data.params
    assert params["classification.lift.training.epochs"] == "2"  # the test project's
    assert params["classification.datasets.iris.source.kind"] == "sklearn"
    (version,) = versions(project / "data/08_reporting/classification/metrics.csv")
    assert run.data.tags["kedro.save_version"] == version.name
    history = client.get_metric_history(run.info.run_id, "classification.iris.repeat_0.train_loss")
    assert [m.step for m in history] == [1, 2]  # one per epoch
    metrics = only_metrics(project, "classification").set_index(["dataset", "model"])
    logged = run.data.metrics["classification.iris.lift.accuracy"]
    # the metrics CSV holds 6 significant digits (float_format %.6g)
    assert logged == pytest.approx(metrics.loc[("iris", "lift"), "accuracy"], abs=1e-6)
    assert run.data.metrics["seconds.total"] > run.data.metrics["seconds.training"] > 0
    artifacts = {
        a.path for a in client.list_artifacts(run.info.run_id, "08_reporting/classification")
    }
    assert {
        "08_reporting/classification/metrics.png",
        "08_reporting/classification/metrics.csv",
    } <= artifacts
    from mlflow.artifacts import load_dict

    saved = load_dict(f"{run.info.artifact_uri}/kedro_datasets.json")
    assert saved["classification.iris.adapters"].endswith(f"{version.name}/adapters")


def test_tracking_switched_off_for_a_pipeline_logs_no_run(project):
    env = project / "conf/untracked"
    env.mkdir()
    (env / "mlflow.yml").write_text("tracking:\n  disable_tracking:\n    pipelines: [predict]\n")
    # the predict pipeline without new rows stops at its first node, after tracking started
    _, before = mlflow_runs(project)
    kedro(project, "run", "--pipelines=predict")
    _, tracked = mlflow_runs(project)
    assert len(tracked) == len(before) + 1
    assert tracked[0].info.status == "FAILED", [(r.info.run_name, r.info.status) for r in tracked]
    kedro(project, "run", "--pipelines=predict", "--env=untracked")
    _, after = mlflow_runs(project)
    assert len(after) == len(tracked)


def test_kedro_run_regression_writes_rae_metrics_and_the_extrapolation_plot(project):
    result = kedro_ok(project, "run", "--pipelines=regression")
    reporting = project / "data/08_reporting/regression"
    metrics = only_metrics(project, "regression")
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


def latest(project: Path, artifact: str) -> Path:
    """The file of ``artifact`` (``data/...``) as the latest run wrote it."""
    path = project / "data" / artifact
    return versions(path)[-1] / path.name


def held_out_rows(project: Path, task: str) -> np.ndarray:
    """The test rows of repeat 0 in the latest split of ``task``'s dataset ``mine``."""
    splits = pd.read_parquet(latest(project, f"05_model_input/{task}/mine/splits.parquet"))
    return splits.query("repeat == 0 and split == 'test'")["row"].to_numpy()


def as_new_rows(project: Path, rows: np.ndarray, file: str) -> pd.DataFrame:
    """``rows`` of the table ``mine`` written to ``file`` as new rows: columns shuffled, an
    identifier added, the first row's colour one never seen."""
    new = make_mixed_table().iloc[rows].sample(frac=1.0, axis=1, random_state=0).assign(id=rows)
    new.loc[new.index[0], "colour"] = "purple"
    new.to_csv(project / "data/01_raw" / file, index=False)
    return new


def new_rows_environment(project: Path, name: str, files: dict[str, str]) -> None:
    """An environment ``name`` whose catalog declares new rows: entry -> CSV under data/01_raw."""
    env = project / "conf" / name
    env.mkdir()
    (env / "catalog.yml").write_text(
        "".join(
            f"{entry}.new_rows:\n  type: pandas.CSVDataset\n  filepath: data/01_raw/{file}\n"
            for entry, file in files.items()
        )
    )


def test_new_rows_are_answered_as_the_runs_test_rows_were(project):
    # the classification and regression runs above trained `mine`; new rows are its test rows
    # of repeat 0, so LIFT's answers must be those of the run's own test predictions (same
    # prompts, same adapter), except for the row whose colour is new
    rows = {task: held_out_rows(project, task) for task in ("classification", "regression")}
    new = {task: as_new_rows(project, rows[task], f"{task}_new.csv") for task in rows}
    new_rows_environment(project, "newrows", {f"{t}.mine": f"{t}_new.csv" for t in rows})
    # another run's parameters do not matter: the artifacts say how they were made
    kedro_ok(
        project,
        "run",
        "--pipelines=predict",
        "--env=newrows",
        "--params=classification.lift.training.epochs=3",
    )

    def answers(task: str) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
        predicted = pd.read_csv(latest(project, f"07_model_output/{task}/mine/new_predictions.csv"))
        assert list(predicted["id"]) == list(rows[task])  # every row, in its order, as given
        assert list(predicted.columns[: len(new[task].columns)]) == list(new[task].columns)
        unseen = predicted["unseen_values"].fillna("")
        assert list(unseen) == ["colour=purple"] + [""] * (len(predicted) - 1)
        own = pd.read_parquet(
            latest(project, f"07_model_output/{task}/mine/lift_predictions.parquet")
        )
        own = own.query("repeat == 0 and model == 'lift'").set_index("row").loc[rows[task]]
        return predicted, own, (unseen == "").to_numpy()

    predicted, own, seen = answers("classification")
    classes = ["high", "low", "mid"]
    assert list(predicted["predicted_kind"][seen]) == [classes[k] for k in own["y_pred"][seen]]
    probabilities = predicted[[f"probability_{c}" for c in classes]].to_numpy()
    own_probabilities = own[[f"proba_{k}" for k in range(3)]].to_numpy()
    assert abs(probabilities - own_probabilities)[seen].max() < 1e-4
    assert abs(probabilities.sum(axis=1) - 1).max() < 1e-6

    numbers, own, seen = answers("regression")
    assert abs(numbers["predicted_signal"] - own["y_pred"].to_numpy())[seen].max() < 1e-9
    assert "probability_high" not in numbers.columns


def test_a_trained_dataset_is_served_with_the_predict_pipelines_answers(project, request):
    import mlflow

    tracking = f"sqlite:///{project / 'data/mlflow/mlflow.db'}"
    request.addfinalizer(partial(mlflow.set_tracking_uri, mlflow.get_tracking_uri()))
    mlflow.set_tracking_uri(tracking)
    # the classification run above registered each dataset it trained as an MLflow model
    client, _ = mlflow_runs(project)
    registered = {m.name for m in client.search_registered_models()}
    assert {"classification.iris", "classification.moons", "classification.mine"} <= registered
    (version,) = client.search_model_versions("name='classification.mine'")
    # the base model is referenced, not copied: a model is its adapter and small tables
    files = mlflow.artifacts.download_artifacts(version.source, dst_path=str(project / "m"))
    size = sum(f.stat().st_size for f in Path(files).rglob("*") if f.is_file())
    assert size < 5_000_000
    # the same rows through the predict pipeline, in Python and over HTTP
    rows = held_out_rows(project, "classification")
    new = as_new_rows(project, rows, "served_new.csv")
    new_rows_environment(project, "served", {"classification.mine": "served_new.csv"})
    kedro_ok(project, "run", "--pipelines=predict", "--env=served")
    expected = pd.read_csv(
        latest(project, "07_model_output/classification/mine/new_predictions.csv")
    )
    columns = ["predicted_kind", "answer_valid", "probability_high", "probability_low", "repeat"]
    model = mlflow.pyfunc.load_model("models:/classification.mine/latest")
    answered = model.predict(new)
    pd.testing.assert_frame_equal(answered[columns], expected[columns], check_dtype=False)
    assert answered["unseen_values"].fillna("").tolist()[0] == "colour=purple"

    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "PYTHONWARNINGS": "ignore"}
    env["PYTHONPATH"] = str(project / "src")  # the project's package, as installed there
    # the server runs `uvicorn` from the environment's bin folder, as an activated one has it
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "-m",
        "models:/classification.mine/latest",
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    server = subprocess.Popen(
        command, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, server.stderr.read()[-3000:]
            assert time.time() < deadline, "the model server did not answer /ping"
            time.sleep(0.5)

        def invoke(rows: pd.DataFrame) -> requests.Response:
            body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
            return requests.post(f"{url}/invocations", json=body, timeout=120)

        response = invoke(new)
        assert response.status_code == 200, response.text
        served = pd.DataFrame(response.json()["predictions"])
        pd.testing.assert_frame_equal(served[columns], expected[columns], check_dtype=False)
        # bad requests: a 4xx naming the column, never a 500 with a traceback
        for bad, named in [
            (new.drop(columns=["signal"]), "Model is missing inputs ['signal']"),
            (new.assign(signal="high"), "column signal"),
            (new.assign(colour=None), f"feature column 'colour' has {len(new)} missing"),
            (new.head(0), "the table has no rows"),
        ]:
            refused = invoke(bad)
            assert 400 <= refused.status_code < 500, (refused.status_code, refused.text)
            assert named in refused.json()["message"]
            assert "Traceback" not in refused.text
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_new_rows_without_a_feature_are_refused_naming_it(project):
    new = make_mixed_table().drop(columns=["colour", "kind"]).head(5)
    new.to_csv(project / "data/01_raw/without_colour.csv", index=False)
    new_rows_environment(project, "withoutcolour", {"classification.mine": "without_colour.csv"})
    folder = project / "data/07_model_output/classification/mine/new_predictions.csv"
    before = versions(folder)
    result = kedro(project, "run", "--pipelines=predict", "--env=withoutcolour")
    assert result.returncode != 0
    said = " ".join((result.stdout + result.stderr).split())
    assert "New rows of dataset 'mine' lack the feature columns ['colour']" in said
    assert versions(folder) == before


def test_new_rows_of_a_dataset_never_trained_name_the_pipeline_to_run(project):
    new_rows_environment(
        project, "untrained", {"classification.untrained": "classification_new.csv"}
    )
    result = kedro(project, "run", "--pipelines=predict", "--env=untrained")
    assert result.returncode != 0
    said = " ".join((result.stdout + result.stderr).split())
    assert (
        "`classification.untrained.adapters` has no saved version, and no pipeline makes it: "
        "declare dataset 'untrained' of classification"
    ) in said, said[-2000:]


def test_the_notebook_runs_on_the_artifacts_of_a_run(project, monkeypatch):
    # executed as a user opens it: a kernel in notebooks/, artifacts through Kedro's extension
    import nbformat
    from nbclient import NotebookClient

    shutil.copytree(PROJECT / "notebooks", project / "notebooks", dirs_exist_ok=True)
    path = project / "notebooks/lift_results.ipynb"
    notebook = nbformat.read(path, as_version=4)
    monkeypatch.setenv("KEDRO_DISABLE_TELEMETRY", "1")
    client = NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on any error
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) >= 3  # comparison, calibration and timings plots
    tables = " ".join(output.get("data", {}).get("text/html", "") for output in outputs)
    assert "logistic_regression" in tables and "lift" in tables and "proba_0" in tables
    # the estimator, fitted on the run's first dataset with the run's settings and model
    printed = " ".join(output.get("text", "") for output in outputs)
    assert re.search(r"\w+: test accuracy [01]\.\d{3}", printed), printed


def test_kedro_viz_draws_the_pipelines_of_the_environment_it_is_given(project):
    # kedro viz leaves the project's hooks out: the pipelines must still be built from the
    # configuration of its --env (the project's context keeps it), not the base one
    (project / "draw_pipelines.py").write_text(
        "import sys; from pathlib import Path\n"
        "from kedro_viz.integrations.kedro.data_loader import load_data\n"
        "_, pipelines, _ = load_data(Path.cwd(), env=sys.argv[1])\n"
        "print(sorted({n.namespace for n in pipelines['classification'].nodes if n.namespace}))"
    )
    drawn = {}
    for env in ("paper", "local"):
        result = python_module(project, "draw_pipelines", env)
        assert result.returncode == 0, result.stderr[-3000:]
        drawn[env] = result.stdout.strip().splitlines()[-1]
    assert "classification.wine" in drawn["paper"] and "classification.digits" in drawn["paper"]
    assert "classification.wine" not in drawn["local"] and "classification.iris" in drawn["local"]


CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def free_port() -> int:
    """A free port below 49152 (kedro-viz refuses the ephemeral range)."""
    import random
    import socket

    for port in random.Random().sample(range(20000, 40000), 50):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 40000")


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (.ci/run installs them with apt-get)",
)
def test_kedro_viz_shows_the_classification_pipeline_in_a_browser(project, tmp_path):
    import urllib.request

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # the static site, offline
    kedro_ok(project, "viz", "build")
    assert (project / "build/index.html").is_file()
    static = json.loads((project / "build/api/main").read_text())
    assert any(node["name"] == "fine_tune" for node in static["nodes"])
    # every study is a pipeline of its own in the DAG: a namespace per table and variant
    for study in STUDY_PIPELINES:
        graph = json.loads((project / f"build/api/pipelines/{study}").read_text())
        names = {node["name"] for node in graph["nodes"]}
        assert {"fine_tune", "report"} <= names, (study, names)
        assert any(name.startswith(f"{study}.classification.") for name in names), study

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "viz.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kedro",
            "viz",
            "run",
            "--host=127.0.0.1",
            f"--port={port}",
            "--no-browser",
        ],
        cwd=project,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its server process too is stopped at the end
    )
    driver = None
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, (tmp_path / "viz.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{url}/api/main", timeout=5) as response:
                    graph = json.load(response)
                break
            except OSError:
                assert time.monotonic() < deadline, "kedro viz did not answer in 240 s"
                time.sleep(2)
        # the API: every dataset's nodes in its namespace, layers from the catalog metadata
        names = {node["name"] for node in graph["nodes"]}
        assert {"fine_tune", "predict_lift", "classification.iris"} <= names
        assert {"model_input", "reporting"} <= set(graph["layers"])

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1600,1000",
            f"--user-data-dir={tmp_path / 'chromium'}",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        driver.get(f"{url}/?pipeline_id=classification&expandAllPipelines=true")
        WebDriverWait(driver, 120).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, ".pipeline-node")) > 10
        )
        time.sleep(2)  # the layout settles
        labels = {
            node.text.lower().replace(" ", "_")
            for node in driver.find_elements(By.CSS_SELECTOR, ".pipeline-node")
        }
        # every dataset's namespace expanded: its LIFT nodes and artifacts
        assert {"fine_tune", "predict_lift", "serialize", "report"} <= labels, labels
        assert "classification.iris.adapters" in labels, labels
        screenshots = Path(os.environ.get("LIFT_SCREENSHOTS", tmp_path))
        screenshots.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(screenshots / "kedro-viz.png"))
    finally:
        if driver is not None:
            driver.quit()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):  # a child that outlived its parent
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def second_run(project) -> tuple[Path, str]:
    """A second classification run, in an environment that switches moons and mine off, adds
    a synthetic dataset and declares a CSV in its catalog alone; before it, the first run's
    metrics version and text."""
    metrics_dir = project / "data/08_reporting/classification/metrics.csv"
    (first,) = versions(metrics_dir)
    first_content = (first / "metrics.csv").read_text()
    make_mixed_table().to_csv(project / "data/01_raw/catalog_only.csv", index=False)
    env = project / "conf/extra"
    env.mkdir()
    (env / "parameters_classification.yml").write_text(
        "classification:\n"
        "  datasets:\n"
        "    moons: null\n"
        "    mine: null\n"
        "    small_blobs:\n"
        "      source: {kind: synthetic, name: blobs, n_samples: 100, seed: 1}\n"
    )
    (env / "catalog.yml").write_text(
        "classification.bycatalog.raw_table:\n"
        "  type: pandas.CSVDataset\n"
        "  filepath: data/01_raw/catalog_only.csv\n"
        "  metadata:\n"
        "    lift: {target: kind, drop_columns: [noise]}\n"
    )
    # the spelling users already know still works
    kedro_ok(project, "run", "--pipeline=classification", "--env=extra")
    return first, first_content


def test_a_second_run_adds_versions_and_keeps_the_first(project, second_run):
    first, first_content = second_run
    kept, second = versions(project / "data/08_reporting/classification/metrics.csv")
    assert kept == first and (first / "metrics.csv").read_text() == first_content
    # same seeds, same data: the same results for the dataset both runs had
    before, after = (
        pd.read_csv(v / "metrics.csv").query("dataset == 'iris'") for v in (first, second)
    )
    pd.testing.assert_frame_equal(after.reset_index(drop=True), before.reset_index(drop=True))


def test_an_environment_adds_datasets_and_switches_others_off(project, second_run):
    latest = versions(project / "data/08_reporting/classification/metrics.csv")[-1]
    assert set(pd.read_csv(latest / "metrics.csv")["dataset"]) == {
        "iris",
        "small_blobs",
        "bycatalog",
    }


def test_a_csv_declared_in_the_catalog_alone_becomes_a_dataset(project, second_run):
    (version,) = versions(project / "data/01_raw/classification/bycatalog/settings.json")
    settings = json.loads((version / "settings.json").read_text())
    assert settings["target"] == "kind" and settings["drop_columns"] == ["noise"]
    (table,) = versions(project / "data/03_primary/classification/bycatalog/table.parquet")
    assert "noise" not in pd.read_parquet(table / "table.parquet").columns


def test_a_bad_target_stops_the_run_with_a_clear_message(project, tmp_path):
    result = kedro(
        project,
        "run",
        "--pipelines=classification",
        "--params=classification.datasets.mine.target=species",
    )
    assert result.returncode != 0
    assert "Dataset 'mine' has no target column 'species'" in result.stdout + result.stderr


def test_a_bad_parameter_stops_the_run_before_any_node_writes(project):
    written = sorted((project / "data").rglob("*"))
    result = kedro(
        project, "run", "--pipelines=classification", "--params=classification.lift.lora.rank=0"
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    said = "Parameter `classification.lift.lora.rank` is 0: input should be greater than 0"
    assert said in " ".join(output.split()), output[-3000:]
    assert sorted((project / "data").rglob("*")) == written  # nothing ran, nothing was written


def test_new_rows_after_a_failed_run_name_the_versions_made_together(project):
    # the bad-target run above saved a new `settings` of `mine` and failed: the latest
    # versions no longer belong together, and the refusal names the ones that do
    result = kedro(project, "run", "--pipelines=predict", "--env=newrows")
    assert result.returncode != 0
    said = " ".join((result.stdout + result.stderr).split())
    assert "would combine artifacts that were not made together" in said
    trained = versions(project / "data/06_models/classification/mine/adapters")[-1].name
    flag = f"--load-versions=classification.mine.settings:{trained}"
    assert flag in said, said[-2000:]
    kedro_ok(project, "run", "--pipelines=predict", "--env=newrows", flag)
