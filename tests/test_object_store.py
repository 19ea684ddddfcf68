"""Every artifact in an S3-compatible object store reached over HTTP (moto's server on the
loopback, tests/s3_standin.py), as on a cluster whose machines share nothing but the store:
`data_root` and the credentials `data_store` set in an environment, a Dask cluster whose
workers each run in a folder of their own, lineage records, resumes and the predict pipeline
on the store, and the store failing before and during a run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import fsspec
import pandas as pd
import pytest

from conftest import (
    artifact_versions,
    copy_project,
    kedro,
    kedro_in_training,
    kedro_ok,
    newest_metrics,
)
from s3_standin import S3Standin, free_port, point_at_store

pytest.importorskip("moto.server", reason="the S3 stand-in is moto's server (make test has it)")
pytest.importorskip("s3fs", reason="the object store is read through s3fs (extra `s3`)")

SMALL = (
    "classification:\n"
    "  split: {repeats: 1}\n"
    "  baselines: {models: {majority: {}, logistic_regression: {C: [1, 10]}}}\n"
    "  datasets:\n"
    "    iris: null\n"
    "    moons: {source: {n_samples: 120}}\n"
)
LOCAL = ("run", "--pipelines=classification", "--env=small")
ON_S3 = ("run", "--pipelines=classification", "--env=s3")
DASK = "--runner=lift.project.runner.DaskRunner"
MOONS = "classification.moons"
MOONS_EPOCHS = "classification.datasets.moons.lift.training.epochs"  # its own value wins


@pytest.fixture(scope="module")
def store():
    standin = S3Standin()
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def project(tmp_path_factory, store) -> Path:
    """A project with two environments of the same small run: `small` on the local disk,
    `s3` in a bucket of the store."""
    root = copy_project(tmp_path_factory.mktemp("object_store"))
    for env in ("small", "s3"):
        (root / "conf" / env).mkdir()
        (root / "conf" / env / "parameters_classification.yml").write_text(SMALL)
    root_url = point_at_store(root, store, store.new_bucket(), env="s3")
    root.joinpath("store_root.txt").write_text(root_url)
    return root


def data_root(project: Path) -> str:
    return project.joinpath("store_root.txt").read_text()


def bucket_versions(store: S3Standin, root: str) -> dict[str, list[str]]:
    return artifact_versions(store.filesystem(), root.removeprefix("s3://"))


def local_versions(project: Path) -> dict[str, list[str]]:
    return artifact_versions(fsspec.filesystem("file"), str(project / "data"))


def said(result: subprocess.CompletedProcess) -> str:
    return " ".join((result.stdout + result.stderr).split())


def start_cluster(project: Path, tmp_path: Path) -> tuple[str, list[subprocess.Popen], list[Path]]:
    """A Dask scheduler and two workers, each worker in a folder of its own (not the
    project's): they read the project's code, never its data/ folder."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": str(project / "src"),
        "LIFT_TORCH_THREADS": "1",
        "KEDRO_DISABLE_TELEMETRY": "1",
    }
    cli = [sys.executable, "-m"]
    scheduler = [*cli, "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
    processes = [
        subprocess.Popen(
            [*scheduler, "--port", str(port), "--dashboard-address", ":0"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    folders = []
    for i in range(2):
        folder = tmp_path / f"worker_{i}"
        folder.mkdir()
        folders.append(folder)
        processes.append(
            subprocess.Popen(
                [*cli, "distributed.cli.dask_worker", address, "--nthreads", "1"]
                + ["--no-dashboard", "--local-directory", str(folder / "scratch")],
                cwd=folder,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return address, processes, folders


def test_a_cluster_sharing_only_the_object_store_gives_the_local_runs_metrics(
    project, store, tmp_path, monkeypatch
):
    # one thread in every process: matrix products summed in the same order everywhere
    monkeypatch.setenv("LIFT_TORCH_THREADS", "1")
    kedro_ok(project, *LOCAL)
    local = local_versions(project)
    address, processes, workers = start_cluster(project, tmp_path)
    try:
        result = kedro_ok(project, *ON_S3, DASK, f"--runner-params=address={address}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    assert "Dask cluster" in said(result)
    root = data_root(project)
    in_bucket = bucket_versions(store, root)
    assert in_bucket.keys() == local.keys()  # every artifact, versioned, in the bucket
    assert all(len(saved) == 1 for saved in in_bucket.values())  # each written once
    assert local_versions(project) == local  # nothing of this run on the project's disk
    for folder in workers:  # nor on a worker's
        assert not (folder / "data").exists(), list((folder / "data").rglob("*"))[:5]
    local_metrics = newest_metrics(fsspec.filesystem("file"), str(project / "data"))
    in_store = newest_metrics(store.filesystem(), root.removeprefix("s3://"))
    pd.testing.assert_frame_equal(in_store, local_metrics)


def test_lineage_resumes_and_predict_work_on_the_object_store(project, store):
    root = data_root(project)
    lineage_before = set((project / "data").rglob("lineage/*"))
    kedro_ok(project, *ON_S3)
    fs = store.filesystem()
    runs = fs.ls(f"{root.removeprefix('s3://')}/lineage")
    assert runs, "no lineage record in the store"
    assert any(path.endswith(f"{MOONS}.adapters.json") for path in fs.find(runs[-1]))
    assert set((project / "data").rglob("lineage/*")) == lineage_before
    # a resume with other parameters is refused, the difference named
    resumed = kedro(
        project,
        *ON_S3,
        f"--from-nodes={MOONS}.predict_lift",
        "--params=classification.lift.generation.mode=generate",
    )
    assert resumed.returncode != 0
    assert "generation: absent then, {'mode': 'generate'} now" in said(resumed)
    # a version that does not exist: the versions in the store are listed
    adapters = bucket_versions(store, root)["06_models/classification/moons/adapters"]
    wrong = kedro(
        project,
        *ON_S3,
        f"--nodes={MOONS}.predict_lift",
        f"--load-versions={MOONS}.adapters:2020-01-01T00.00.00.000Z",
    )
    assert wrong.returncode != 0
    assert f"asks for version 2020-01-01T00.00.00.000Z of `{MOONS}.adapters`" in said(wrong)
    assert adapters[-1] in said(wrong)
    # new rows answered by the adapters in the store, their answers written there
    rows = f"{root}/01_raw/new_moons.csv"
    with fs.open(rows.removeprefix("s3://"), "w") as file:
        pd.DataFrame({"x1": [0.1, 1.9], "x2": [0.8, -0.2]}).to_csv(file, index=False)
    with (project / "conf/s3/catalog.yml").open("w") as catalog:
        catalog.write(
            f"{MOONS}.new_rows:\n  type: pandas.CSVDataset\n  filepath: {rows}\n"
            "  credentials: data_store\n"
        )
    kedro_ok(project, "run", "--pipelines=predict", "--env=s3")
    answers = bucket_versions(store, root)[
        "07_model_output/classification/moons/new_predictions.csv"
    ]
    assert len(answers) == 1


def test_an_unreachable_store_is_named_before_any_work(project, store, tmp_path):
    gone = copy_project(tmp_path)
    (gone / "conf/gone").mkdir()
    (gone / "conf/gone/parameters_classification.yml").write_text(SMALL)
    closed = S3Standin()  # never started: nothing answers on its port
    point_at_store(gone, closed, "lift-nowhere", env="gone")
    started = time.monotonic()
    result = kedro(gone, "run", "--pipelines=classification", "--env=gone")
    assert result.returncode != 0
    message = said(result)
    assert "The data store `data_root: s3://lift-nowhere/data`" in message
    assert "cannot be reached" in message and "data_store" in message
    assert "Running node" not in message and "Loading data" not in message
    assert time.monotonic() - started < 120


def test_a_store_lost_in_the_middle_of_a_node_fails_that_node_and_leaves_no_half_version(
    project, store
):
    root = data_root(project)
    before = bucket_versions(store, root)
    process = kedro_in_training(project, *ON_S3, f"--params={MOONS_EPOCHS}=20", epochs=20)
    try:
        store.stop()  # while it trains, until the run ends
        output, _ = process.communicate(timeout=300)
    finally:
        process.kill()
        store.start()
    assert process.returncode != 0
    message = " ".join(output.split())
    assert f"{MOONS}.adapters: Failed while saving data" in message, message[-3000:]
    after = bucket_versions(store, root)
    adapters = "06_models/classification/moons/adapters"
    assert after[adapters] == before[adapters]  # no version of the lost save
    # the next run reads what was whole and makes the rest again
    kedro_ok(project, *ON_S3)
    assert len(bucket_versions(store, root)[adapters]) == len(before[adapters]) + 1


def test_adapters_on_the_store_are_written_in_place_and_refused_until_whole(store):
    from lift.project.datasets import AdapterDataset
    from test_shared_storage import sample

    folder = f"s3://{store.new_bucket()}/adapters"
    dataset = AdapterDataset(filepath=folder, credentials=store.credentials())
    adapters = sample("lift.project.datasets.AdapterDataset", None, 1)
    dataset.save(adapters)
    fs = store.filesystem()
    assert not fs.glob(f"{folder.removeprefix('s3://')}*.partial")  # no copy of a folder
    assert dataset.load().keys() == adapters.keys()
    # as a save cut short leaves it: every file but the one written last
    fs.rm(f"{folder.removeprefix('s3://')}/saved.json")
    with pytest.raises(Exception, match=r"adapters lack saved.json: their save did not finish"):
        dataset.load()
