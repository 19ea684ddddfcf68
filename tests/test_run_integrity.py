"""Runs that never mix: a failed, interrupted or re-parametrized run next to a good one, as a
user makes them with `kedro run` in a subprocess. The dataset `probe` is iris written as a CSV
(`a,b,c,d,y`) in an environment of its own; the model is a tiny one built by the test. The
lineage tests run twice: with the artifacts on the local disk, and in an S3-compatible object
store reached over HTTP (tests/s3_standin.py)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import fsspec
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_iris

from conftest import copy_project, kedro, kedro_in_training, kedro_ok
from s3_standin import S3Standin, point_at_store

PROBE = "classification.probe"
RUN = ("run", "--pipelines=classification", "--env=probe")


STORES: dict[Path, tuple] = {}  # project -> (filesystem, data root on it) of its artifacts


@pytest.fixture(scope="module", params=["local", "s3"])
def project(request, tmp_path_factory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("integrity"))
    iris = load_iris()
    table = pd.DataFrame(iris.data, columns=list("abcd"))
    table["y"] = [str(iris.target_names[t]) for t in iris.target]
    (root / "data/01_raw").mkdir(parents=True)
    table.to_csv(root / "data/01_raw/probe.csv", index=False)
    env = root / "conf/probe"
    env.mkdir()
    (env / "parameters_classification.yml").write_text(
        "classification:\n"
        "  split: {repeats: 1}\n"
        "  datasets:\n"
        "    iris: null\n"
        "    moons: null\n"
        "    probe: {source: {kind: file}, target: y}\n"
    )
    (env / "catalog.yml").write_text(
        f"{PROBE}.raw_table:\n  type: pandas.CSVDataset\n  filepath: data/01_raw/probe.csv\n"
    )
    STORES[root] = (fsspec.filesystem("file"), str(root / "data"))
    if request.param == "s3":
        pytest.importorskip("moto.server", reason="the S3 stand-in is moto's server")
        store = S3Standin()
        store.start()
        request.addfinalizer(store.stop)
        data_root = point_at_store(root, store, store.new_bucket(), env="probe")
        STORES[root] = (store.filesystem(), data_root.removeprefix("s3://"))
    kedro_ok(root, "run", "--pipelines=classification", "--env=probe")
    return root


def on_s3(project: Path) -> bool:
    return "s3" in STORES[project][0].protocol


def local_only(project: Path, why: str = "about the local disk") -> None:
    """Skip a test for the S3 store: one about the local disk (a user's file, MLflow's
    database), or ``why`` it needs no second pass."""
    if on_s3(project):
        pytest.skip(f"{why}: once, with the local store")


def store_path(project: Path, relative: str) -> str:
    """``relative`` (below the data root) where the project's artifacts are: a local path, or
    an s3:// URL as a catalog entry names it."""
    fs, root = STORES[project]
    return f"s3://{root}/{relative}" if on_s3(project) else f"{root}/{relative}"


def versions(project: Path, artifact: str) -> list[str]:
    """The saved versions of a probe artifact, oldest first."""
    fs, root = STORES[project]
    (folder,) = fs.glob(f"{root}/*/classification/probe/{artifact}")
    return sorted(path.rstrip("/").rsplit("/", 1)[-1] for path in fs.ls(folder, detail=False))


def read_scores(project: Path, version: str) -> pd.DataFrame:
    fs, root = STORES[project]
    with fs.open(f"{root}/08_reporting/classification/probe/scores.csv/{version}/scores.csv") as f:
        return pd.read_csv(f)


def said(result: subprocess.CompletedProcess) -> str:
    return " ".join((result.stdout + result.stderr).split())


def test_a_resume_after_a_failed_run_with_other_parameters_is_refused(project):
    adapters = versions(project, "adapters")
    failed = kedro(project, *RUN, "--params=classification.datasets.probe.target=a")
    assert failed.returncode != 0
    # the failed run left a newer table, schema and settings (35 classes of `a`) behind
    assert len(versions(project, "schema.json")) == 2
    resumed = kedro(project, *RUN, f"--from-nodes={PROBE}.predict_lift")
    assert resumed.returncode != 0
    message = said(resumed)
    assert f"Node `{PROBE}.predict_lift` would combine artifacts that were not made" in message
    assert f"`{PROBE}.schema`: " in message
    assert f"`{PROBE}.adapters` (version {adapters[0]}) was made from another" in message
    assert f"--from-nodes={PROBE}.configure" in message
    assert versions(project, "lift_predictions.parquet") == versions(project, "adapters")[:1]


def test_new_parameters_on_a_resume_are_refused_with_the_difference_named(project):
    local_only(project, "on the object store in test_object_store's lineage test")
    before = versions(project, "lift_predictions.parquet")
    resumed = kedro(
        project,
        *RUN,
        f"--from-nodes={PROBE}.predict_lift",
        "--params=classification.lift.generation.mode=generate",
    )
    assert resumed.returncode != 0
    message = said(resumed)
    assert "parameters `classification.lift`" in message
    # conf/base leaves `generation` to the library's defaults: the run set it anew
    assert "generation: absent then, {'mode': 'generate'} now" in message
    assert versions(project, "lift_predictions.parquet") == before


def test_a_run_interrupted_during_training_is_not_mixed_into_a_resume(project):
    local_only(project, "the stop is the trainer's, the resume's check tested on both stores")
    first = read_scores(project, versions(project, "scores.csv")[0])
    adapters = versions(project, "adapters")
    # a run with other settings (a long training), interrupted by Ctrl-C while it trains
    long = "--params=classification.lift.training.epochs=400"
    process = kedro_in_training(project, *RUN, long, epochs=400)
    try:
        time.sleep(1)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
    finally:
        process.kill()  # a run left going would write into the tests that follow
    assert process.returncode != 0
    assert re.search(
        r"probe repeat 0: interrupted in epoch \d+ of 400; no adapter was kept", output
    )
    assert versions(project, "adapters") == adapters  # interrupted before it saved any
    # it left the long training's settings and prompts behind: the first run's adapters
    # are not combined with them
    resumed = kedro(project, *RUN, f"--from-nodes={PROBE}.predict_lift")
    assert resumed.returncode != 0
    assert "training.epochs: 400 then, 2 now" in said(resumed)
    # the remedy the message names gives the uninterrupted run's result
    kedro_ok(project, *RUN, f"--from-nodes={PROBE}.configure")
    pd.testing.assert_frame_equal(read_scores(project, versions(project, "scores.csv")[-1]), first)


def test_a_run_interrupted_during_training_resumes_after_its_last_whole_epoch(project):
    local_only(project, "the trainer's state is kept on the machine's own disk")
    six = "--params=classification.lift.training.epochs=6"
    process = kedro_in_training(project, *RUN, six, epochs=6, epoch=3)
    try:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode != 0
    assert "the same fine-tuning run again resumes there" in " ".join(output.split())
    resumed = kedro_ok(project, *RUN, six, f"--from-nodes={PROBE}.fine_tune")
    logged = re.sub(r"\S+\.py:\d+ ", "", said(resumed))  # the log's source, where it wraps
    done = re.search(r"probe repeat 0: resumed after epoch (\d) of 6", logged)
    assert done is not None and int(done[1]) >= 2
    # the adapter of a run never stopped: the same scores
    again = kedro_ok(project, *RUN, six, f"--from-nodes={PROBE}.fine_tune")
    assert "resumed" not in said(again)  # the state was forgotten once the adapter was done
    scores = versions(project, "scores.csv")
    pd.testing.assert_frame_equal(
        read_scores(project, scores[-1]), read_scores(project, scores[-2])
    )
    kedro_ok(project, *RUN, f"--from-nodes={PROBE}.configure")  # the module's settings again


def test_a_resume_with_the_same_parameters_combines_byte_identical_artifacts(project):
    """A rerun writes the same bytes, so a resume may take artifacts of two runs."""
    kedro_ok(project, *RUN, f"--to-nodes={PROBE}.serialize")  # new versions, same content
    kedro_ok(project, *RUN, f"--from-nodes={PROBE}.predict_lift")
    scores = versions(project, "scores.csv")
    pd.testing.assert_frame_equal(read_scores(project, scores[-1]), read_scores(project, scores[0]))


def tracked_runs(project: Path) -> int:
    """How many MLflow runs the project's tracking database holds."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'data/mlflow/mlflow.db'}")
    experiment = client.get_experiment_by_name("lift")
    return len(client.search_runs([experiment.experiment_id])) if experiment else 0


def test_a_file_dataset_without_its_catalog_entry_is_named_before_any_node_runs(project):
    local_only(project)
    env = project / "conf/ghost"
    env.mkdir()
    (env / "parameters_classification.yml").write_text(
        "classification:\n"
        "  datasets:\n"
        "    iris: null\n"
        "    moons: null\n"
        "    ghost: {source: {kind: file}, target: y}\n"
    )
    tracked = tracked_runs(project)
    result = kedro(project, "run", "--pipelines=classification", "--env=ghost")
    assert result.returncode != 0
    message = said(result)
    assert "`classification.ghost.raw_table` has no file" in message
    assert "declare it" in message and "type: pandas.CSVDataset" in message
    assert not list((project / "data").rglob("*ghost*"))
    assert tracked_runs(project) == tracked  # refused before an MLflow run was started


def test_a_misspelt_catalog_path_is_named_with_the_path_before_any_node_runs(project):
    local_only(project)
    env = project / "conf/typo"
    shutil.copytree(project / "conf/probe", env)
    (env / "catalog.yml").write_text(
        f"{PROBE}.raw_table:\n  type: pandas.CSVDataset\n  filepath: data/01_raw/prob.csv\n"
    )
    adapters = versions(project, "adapters")
    result = kedro(project, "run", "--pipelines=classification", "--env=typo")
    assert result.returncode != 0
    message = said(result)
    assert f"`{PROBE}.raw_table` reads {project}/data/01_raw/prob.csv, which does not" in message
    assert "correct the `filepath`" in message and "declare it" not in message
    assert versions(project, "adapters") == adapters


def test_a_base_model_that_cannot_be_read_is_refused_before_any_node_runs(project):
    local_only(project)
    base_models = sorted((project / "data/06_models/base_model.json").iterdir())
    baselines = versions(project, "baseline_models.pkl")
    result = kedro(project, *RUN, "--params=lift.model.name=./models/SmolLM2-typo")
    assert result.returncode != 0
    message = said(result)
    assert "Parameter `lift.model.name` is './models/SmolLM2-typo', and no folder" in message
    assert "Traceback" not in message
    # nothing was fitted or saved, least of all a base_model naming the bad model
    assert sorted((project / "data/06_models/base_model.json").iterdir()) == base_models
    assert versions(project, "baseline_models.pkl") == baselines


@pytest.mark.skipif(torch.cuda.is_available(), reason="asks for a GPU this machine lacks")
def test_a_gpu_asked_for_on_a_machine_without_one_is_refused_before_any_node_runs(project):
    local_only(project)
    baselines = versions(project, "baseline_models.pkl")
    result = kedro(project, *RUN, "--params=classification.lift.device=cuda")
    assert result.returncode != 0
    message = said(result)
    assert "Parameter `classification.lift.device` is 'cuda': this machine has no CUDA GPU" in (
        message
    )
    assert "use `auto`" in message and "Traceback" not in message
    assert versions(project, "baseline_models.pkl") == baselines


def test_a_wrong_load_version_lists_the_versions_that_exist(project):
    local_only(project, "on the object store in test_object_store's lineage test")
    adapters = versions(project, "adapters")
    result = kedro(
        project,
        *RUN,
        f"--nodes={PROBE}.predict_lift",
        f"--load-versions={PROBE}.adapters:2020-01-01T00.00.00.000Z",
    )
    assert result.returncode != 0
    message = said(result)
    assert f"asks for version 2020-01-01T00.00.00.000Z of `{PROBE}.adapters`" in message
    assert adapters[0] in message


HALF_SAVE = '''
from kedro_datasets.pandas import CSVDataset


class HalfSavedCSV(CSVDataset):
    """Writes half the table's bytes, then fails, as a disk or a network going away does."""

    def _save(self, data):
        text = data.to_csv(index=False)
        with self._fs.open(self._get_save_path(), "w") as stream:
            stream.write(text[: len(text) // 2])
        raise OSError("the disk went away while saving")
'''


def test_a_version_whose_save_failed_half_way_is_never_read(project):
    (project / "src/half_saved.py").write_text(HALF_SAVE)
    env = project / "conf/half"
    shutil.copytree(project / "conf/probe", env)
    scores = store_path(project, "08_reporting/classification/probe/scores.csv")
    with (env / "catalog.yml").open("a") as catalog:
        catalog.write(
            f"{PROBE}.scores:\n  type: half_saved.HalfSavedCSV\n  filepath: {scores}\n"
            "  credentials: data_store\n  versioned: true\n"
        )
    evaluate = f"--from-nodes={PROBE}.evaluate"
    # the run saves the LIFT predictions to the end, then half of the scores
    predict = f"--from-nodes={PROBE}.predict_lift"
    failed = kedro(project, "run", "--pipelines=classification", "--env=half", predict)
    assert failed.returncode != 0 and "the disk went away" in said(failed), said(failed)[-3000:]
    half = versions(project, "scores.csv")[-1]
    fs, _ = STORES[project]
    assert fs.isfile(f"{scores}/{half}/scores.csv")  # a half table is saved, newest of all
    report = kedro(project, *RUN, "--from-nodes=classification.report")
    assert report.returncode != 0
    message = said(report)
    assert f"Version {half} of `{PROBE}.scores` was not saved to the end" in message
    assert f"--from-nodes={PROBE}.evaluate" in message
    kedro_ok(project, *RUN, evaluate)  # made again, it is read


def test_two_runs_started_at_once_keep_to_their_own_versions(project):
    local_only(project)
    lineage_root = project / "data/lineage"
    before = {p.name for p in lineage_root.iterdir()}
    command = [sys.executable, "-m", "kedro", *RUN]
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "PYTHONWARNINGS": "ignore"}
    runs = [
        subprocess.Popen(
            command + extra,
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for extra in ([], ["--params=classification.lift.training.seed=1"])
    ]
    outputs = [run.communicate(timeout=600)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [
        " ".join(o.split())[-1500:] for o in outputs
    ]
    made = sorted({p.name for p in lineage_root.iterdir()} - before)
    assert len(made) == 2  # two runs, two versions
    for run in made:
        own = {
            record.stem: json.loads(record.read_text())["digest"]
            for record in (lineage_root / run).glob("*.json")
            if record.stem != "parameters"
        }
        for name in own:
            made_from = json.loads((lineage_root / run / f"{name}.json").read_text())["made_from"]
            # every artifact it read that it also saved is its own version of it
            assert {a: d for a, d in made_from.items() if a in own} == {
                a: own[a] for a in made_from if a in own
            }, (run, name)


KILLED_MID_WRITE = """
import os, signal, sqlite3, sys
store = sqlite3.connect(sys.argv[1])
store.execute("PRAGMA cache_size = 1")  # pages spill into the file before the commit
store.execute("BEGIN IMMEDIATE")
store.execute("UPDATE metrics SET value = -1")
store.execute("DELETE FROM params")
os.kill(os.getpid(), signal.SIGKILL)  # killed in the middle of the transaction
"""


def test_a_tracking_store_killed_mid_write_does_not_stop_the_next_run(project):
    local_only(project)
    store = project / "data/mlflow/mlflow.db"
    tracked = tracked_runs(project)
    killed = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(store)])
    assert killed.returncode == -signal.SIGKILL
    assert store.with_name("mlflow.db-journal").is_file()  # a hot journal left behind
    result = kedro(project, *RUN)
    assert result.returncode == 0, said(result)[-2000:]
    assert "MLflow tracking failed" not in said(result)
    assert tracked_runs(project) == tracked + 1  # the store rolled back and took the run


def test_a_tracking_store_that_fails_during_a_run_costs_the_tracking_not_the_run(caplog):
    from lift.project.hooks import RunSummary, RunTracking

    class FailingStore:
        def log_batch(self, *args, **kwargs):
            raise OSError("database is locked")

        log_dict = log_metric = log_artifact = log_batch

    tracking = RunTracking(RunSummary())
    tracking.run_id, tracking.catalog, tracking.saved = "run", None, {}
    tracking._client = FailingStore
    table = pd.DataFrame({"dataset": ["iris"], "model": ["lift"], "accuracy": [0.9]})
    tracking.after_dataset_saved("classification.metrics", table)  # no exception
    assert tracking.run_id is None  # nothing more is tried on a failing store
    assert "MLflow tracking failed while logging `classification.metrics`" in caplog.text
    assert "OSError: database is locked" in caplog.text
    tracking.after_pipeline_run()  # untracked from here: nothing raised
