"""The pipelines on a Dask cluster (``lift.project.runner.DaskRunner``): a local cluster of two
worker processes runs the classification pipeline as the sequential runner does."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fsspec
import pandas as pd
import pytest

from conftest import artifact_versions, copy_project, kedro, kedro_ok, newest_metrics

RUN = ("run", "--pipelines=classification", "--env=small")
DASK = "--runner=lift.project.runner.DaskRunner"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("dask"))
    env = root / "conf/small"
    env.mkdir()
    (env / "parameters_classification.yml").write_text(
        "classification:\n"
        "  split: {repeats: 1}\n"
        "  baselines: {models: {majority: {}, logistic_regression: {C: [1, 10]}}}\n"
        "  datasets:\n"
        "    moons: {source: {n_samples: 120}}\n"
    )
    return root


def versions(project: Path) -> dict[str, list[str]]:
    """Every versioned artifact of the runs and its versions."""
    return artifact_versions(fsspec.filesystem("file"), str(project / "data"))


def metrics(project: Path) -> pd.DataFrame:
    return newest_metrics(fsspec.filesystem("file"), str(project / "data"))


def test_a_dask_run_gives_the_sequential_runs_metrics_writing_every_artifact_once(
    project, monkeypatch
):
    # one thread, as each of the two local workers on these two cores: matrix products summed
    # in the same order, so the same adapters to the last bit
    monkeypatch.setenv("LIFT_TORCH_THREADS", "1")
    kedro_ok(project, *RUN)
    sequential, before = metrics(project), versions(project)
    assert len(before) > 20  # the pipeline's artifacts, each a versioned folder
    result = kedro_ok(project, *RUN, DASK)
    said = " ".join((result.stdout + result.stderr).split())
    assert "Dask cluster" in said
    assert "training" in said.split("Run time by phase")[1]  # the workers' node seconds
    after = versions(project)
    assert after.keys() == before.keys()
    for artifact, saved in after.items():
        assert len(saved) == len(before[artifact]) + 1, artifact  # written once
    pd.testing.assert_frame_equal(metrics(project), sequential)


def test_an_unreachable_scheduler_is_said(project):
    result = kedro(project, *RUN, DASK, "--runner-params=address=tcp://127.0.0.1:9")
    assert result.returncode != 0
    said = " ".join((result.stdout + result.stderr).split())
    assert "No Dask scheduler answered at tcp://127.0.0.1:9" in said


def test_a_worker_killed_in_the_middle_of_a_fine_tuning_costs_the_node_not_the_run(
    project, monkeypatch
):
    from distributed import Client, LocalCluster

    monkeypatch.setenv("LIFT_TORCH_THREADS", "1")
    monkeypatch.chdir(project)  # the workers' working directory, as the runner's own cluster
    before = versions(project)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster:
        client = Client(cluster)
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kedro",
                *RUN,
                DASK,
                f"--runner-params=address={cluster.scheduler_address}",
            ],
            cwd=project,
            env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        killed = None
        deadline = time.monotonic() + 300
        while killed is None and run.poll() is None and time.monotonic() < deadline:
            for worker, keys in client.processing().items():
                if any(str(key).startswith("classification.moons.fine_tune-") for key in keys):
                    (pid,) = client.run(os.getpid, workers=[worker]).values()
                    os.kill(pid, signal.SIGKILL)
                    killed = worker
            time.sleep(0.05)
        output = run.communicate(timeout=600)[0]
        client.close()
    assert killed, "the fine-tuning node was never seen running"
    assert run.returncode == 0, output[-3000:]
    after = versions(project)
    for artifact, saved in after.items():  # each artifact written once, none half
        assert len(saved) == len(before.get(artifact, [])) + 1, artifact
    adapters = next(k for k in after if k.endswith("moons/adapters"))
    newest = project / "data" / adapters / after[adapters][-1]
    assert not list(newest.rglob("*.partial*"))
    assert len(metrics(project)) > 0
