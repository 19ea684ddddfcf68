"""The pipelines on a Dask cluster (``lift.project.runner.DaskRunner``): a local cluster of two
worker processes runs the classification pipeline as the sequential runner does."""

import re
from pathlib import Path

import pandas as pd
import pytest

from conftest import copy_project, kedro, kedro_ok

RUN = ("run", "--pipelines=classification", "--env=small")
DASK = "--runner=lift.project.runner.DaskRunner"
VERSION = re.compile(r"^\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d\.\d{3}Z$")  # Kedro's


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
    """Every versioned artifact of the runs (a folder of version folders) and its versions."""
    found = {}
    for folder in (project / "data").glob("0*/classification/**/"):
        saved = sorted(p.name for p in folder.iterdir())
        if saved and all(VERSION.match(name) for name in saved):
            found[str(folder.relative_to(project))] = saved
    return found


def metrics(project: Path) -> pd.DataFrame:
    folder = project / "data/08_reporting/classification/metrics.csv"
    latest = sorted(folder.iterdir())[-1]
    return pd.read_csv(latest / "metrics.csv")


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
