"""Shared fixtures: small tables made in the test, never downloaded."""

from __future__ import annotations

import gc
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# `make test` runs the suite in two processes (pytest-xdist, one per core here): each, and the
# kedro runs it starts, keeps to its share of the cores (two processes spinning on every core
# slow both many times over). Set before numpy and torch start their thread pools.
if workers := os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    share = str(max(1, (cores or 1) // int(workers)))
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "LIFT_TORCH_THREADS"):
        os.environ[variable] = share

import numpy as np
import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog

from prewarmed import Prewarmed

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

# the columns the metrics table promises (issue "Kedro project foundation", item 6)
METRICS_COLUMNS = {
    "dataset",
    "model",
    "n_train",
    "n_test",
    "accuracy",
    "accuracy_std",
    "f1_macro",
    "repeats",
}

SMALL_GRIDS = {
    "majority": {},
    "logistic_regression": {"C": [1, 10]},
    "knn": {"n_neighbors": [1, 3]},
    "xgboost": {"max_depth": [3]},
}


def make_mixed_table() -> pd.DataFrame:
    """120 rows: a numeric signal, a categorical column, a column with a gap, and a text target
    whose class follows the signal."""
    rng = np.random.default_rng(0)
    signal = rng.normal(size=120)
    return pd.DataFrame(
        {
            "signal": signal,
            "noise": rng.normal(size=120),
            "colour": rng.choice(["red", "green", "blue"], size=120),
            "gappy": np.where(np.arange(120) % 7 == 0, np.nan, 1.0),
            "kind": np.where(signal > 0.3, "high", np.where(signal < -0.3, "low", "mid")),
        }
    )


@pytest.fixture
def mixed_table() -> pd.DataFrame:
    return make_mixed_table()


def build_tiny_model(folder) -> str:
    """A 2-layer Llama with random weights and a character-level tokenizer, saved as a model
    folder: the real transformers/PEFT code paths at a size that trains in seconds."""
    import string

    import torch
    from tokenizers import Tokenizer, decoders, models
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    characters = sorted(set(string.printable) - set("\x0b\x0c\r"))
    vocab = {"<pad>": 0, "<eos>": 1, **{c: i + 2 for i, c in enumerate(characters)}}
    characters_only = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    characters_only.decoder = decoders.Fuse()  # decode by joining the characters
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=characters_only,
        eos_token="<eos>",
        pad_token="<pad>",
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        # large enough embeddings that a normalised hidden state can make confident logits
        initializer_range=0.3,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=1,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def shared_tiny_model() -> str:
    """The tiny model at one path for all test processes of this machine and this version of
    ``build_tiny_model`` (pytest-xdist's workers must collect the same test ids, and some ids
    name the model's folder). Built aside and renamed: processes building it at once agree."""
    import hashlib
    import inspect
    import tempfile

    import transformers

    made_by = inspect.getsource(build_tiny_model) + transformers.__version__
    version = hashlib.sha256(made_by.encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"lift_tiny_model_{version}"
    if not (folder / "config.json").is_file():
        aside = tempfile.mkdtemp(prefix="lift_tiny_model_building_")
        build_tiny_model(aside)
        try:
            os.rename(aside, folder)
        except OSError:  # another process put its own there first
            shutil.rmtree(aside)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))


def catalog_for(task: str, parameters: dict, model_dir: str, raw_tables: dict) -> DataCatalog:
    """The catalog a pipeline of ``task`` reads in memory: its parameters as Kedro names them,
    the base model's, and the raw tables of file datasets (dataset name -> table)."""
    catalog = DataCatalog()
    catalog["params:lift.model"] = {"name": model_dir}
    for key, value in parameters.items():
        catalog[f"params:{task}.{key}"] = value
    for name, params in parameters["datasets"].items():
        catalog[f"params:{task}.datasets.{name}"] = params
    for name, table in raw_tables.items():
        catalog[f"{task}.{name}.raw_table"] = table
    return catalog


# The slowest test modules, slowest first (as measured in docs/development.md#tests): `make
# test` hands whole modules to its processes in this order (`--no-loadscope-reorder`), so each
# process's last module is a short one and the processes end together.
SLOWEST = (
    "test_embedded_model",
    "test_run_integrity",
    "test_kedro_run",
    "test_object_store",
    "test_dask_runner",
    "test_paper_run",
    "test_estimator",
    "test_fine_tuning",
    "test_many_adapters",
    "test_studies",
    "test_install",
)


def pytest_collection_modifyitems(items: list) -> None:
    """The slowest modules first, each module's tests in their own order."""
    rank = {module: i for i, module in enumerate(SLOWEST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(SLOWEST)))


def pytest_collection_finish(session) -> None:
    """Every test module is imported, and with them torch, transformers, PEFT, scikit-learn:
    their objects (650,000 for those modules alone) are left out of the garbage collector's
    scans from here on. The library collects after every fine-tuning and prediction
    (``release_memory``), and each scan of them took 0.35 s: most of a tiny model's fit and
    answers (1.1 s, 0.3 s frozen)."""
    gc.freeze()


PROJECT = Path(__file__).resolve().parents[1]


# the largest baselines made small in a copied project, as its model is: a tiny classification
# run's baselines took 1.1 to 1.5 s with these sizes against 3.2 with the paper's
# (docs/development.md#tests); the paper's own sizes are fitted in test_baselines
SMALL_BASELINES = {
    "classification": {"mlp": {"max_iter": [20]}, "random_forest": {"n_estimators": [10]}},
    "regression": {
        "mlp": {"max_iter": [20]},
        "random_forest": {"n_estimators": [10]},
        "gradient_boosting": {"n_estimators": [10]},
    },
}


def copy_project(root: Path) -> Path:
    """A copy of the project under ``root`` (conf, src) whose LIFT runs a tiny model built
    here with a short, fast training and whose baselines search their grids with 2 folds in
    one process: the real model has its own end-to-end tests."""
    for item in ("conf", "src"):
        shutil.copytree(PROJECT / item, root / item, ignore=shutil.ignore_patterns("__pycache__"))
    for local in (root / "conf/local").iterdir():  # this machine's own settings stay here
        if local.name != ".gitkeep":
            shutil.rmtree(local) if local.is_dir() else local.unlink()
    for item in ("pyproject.toml", ".telemetry"):
        shutil.copy(PROJECT / item, root / item)
    for task in ("classification", "regression"):
        task_file = root / f"conf/base/parameters_{task}.yml"
        parameters = yaml.safe_load(task_file.read_text())
        lift = parameters[task]["lift"]
        lift.setdefault("training", {}).update(learning_rate=0.03, epochs=2)
        lift.setdefault("lora", {}).update(rank=4, alpha=8)
        baselines = parameters[task]["baselines"]
        if "cv_folds" in baselines:  # the paper's baselines, searched quickly
            baselines.update(cv_folds=2, n_jobs=1)
        # each grid's first candidate only: the grid search itself is tested in
        # test_baselines, and the paper's grids cost a run 3.5 times the time (iris, 2 folds)
        baselines["models"] = {
            name: {key: values[:1] for key, values in (grid or {}).items()}
            | SMALL_BASELINES[task].get(name, {})
            for name, grid in baselines["models"].items()
        }
        task_file.write_text(yaml.safe_dump(parameters))
    lift_file = root / "conf/base/parameters_lift.yml"
    lift_parameters = yaml.safe_load(lift_file.read_text())
    lift_parameters["lift"]["model"]["name"] = build_tiny_model(root / "tiny_model")
    lift_file.write_text(yaml.safe_dump(lift_parameters))
    return root


VERSION = re.compile(r"\d{4}-\d\d-\d\dT\d\d\.\d\d\.\d\d\.\d{3}Z")  # Kedro's version names


def artifact_versions(fs, root: str) -> dict[str, list[str]]:
    """Every versioned artifact under the data root ``root`` on filesystem ``fs`` (its path
    below the root, Kedro's ``<artifact>/<version>/...``) and its versions, oldest first;
    lineage records aside."""
    found: dict[str, set[str]] = {}
    for path in fs.find(root):
        parts = path[len(root.rstrip("/")) + 1 :].split("/")
        at = next((i for i, part in enumerate(parts) if VERSION.fullmatch(part)), None)
        if parts[0] != "lineage" and at:
            found.setdefault("/".join(parts[:at]), set()).add(parts[at])
    return {artifact: sorted(saved) for artifact, saved in found.items()}


def newest_metrics(fs, root: str, task: str = "classification") -> pd.DataFrame:
    """The newest metrics table of ``task`` under the data root ``root`` on ``fs``."""
    folder = f"{root}/08_reporting/{task}/metrics.csv"
    with fs.open(f"{sorted(fs.ls(folder, detail=False))[-1]}/metrics.csv") as file:
        return pd.read_csv(file)


PREWARMED = Prewarmed()


def python_module(project: Path, module: str, *args: str) -> subprocess.CompletedProcess:
    """``python -m module *args`` run in ``project`` as a user runs it, in a process of its
    own forked from a warm interpreter (``prewarmed``: torch and the rest already imported)."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "PYTHONWARNINGS": "ignore"}
    return PREWARMED.run(project, module, args, env, timeout=900)


def kedro(project: Path, *args: str) -> subprocess.CompletedProcess:
    """``kedro *args`` run in ``project`` as a user runs it (``python_module``)."""
    return python_module(project, "kedro", *args)


def kedro_in_training(project: Path, *args: str, epochs: int, epoch: int = 1) -> subprocess.Popen:
    """``kedro *args`` started in ``project`` and read until its training loop runs ``epoch``
    (its progress bar shows epoch ``epoch`` of ``epochs``): the process, still going, its
    output piped."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "COLUMNS": "200"}
    env.pop("TQDM_DISABLE", None)  # the progress bar tells when the training loop runs
    process = subprocess.Popen(
        [sys.executable, "-m", "kedro", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # tqdm's carriage returns read as line ends
        if f"epoch {epoch}/{epochs}" in line:
            return process
    process.wait()
    pytest.fail("the run ended without its training loop's progress bar")


def kedro_ok(project: Path, *args: str) -> subprocess.CompletedProcess:
    """``kedro *args``, which must succeed (its output's tail is the failure message)."""
    result = kedro(project, *args)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture
def publish(monkeypatch):
    """``publish(rows)`` makes ``rows`` (pipeline, dataset, variant, model, metric, mean) what
    the paper published (``lift.evaluation.published``), for a test's own tables."""
    from lift.evaluation import published

    def set_rows(*rows: tuple) -> None:
        table = pd.DataFrame(
            [
                dict(zip(published.COLUMNS, (*row, float("nan"), "", "a test"), strict=True))
                for row in rows
            ]
        )
        monkeypatch.setattr(published, "_read", lambda: table)

    return set_rows
