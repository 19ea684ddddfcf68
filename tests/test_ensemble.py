"""`training.ensemble`: several adapters per repeat from consecutive seeds, their answers
averaged, on a tiny model built in the test."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from kedro.io import Version

from lift.config.errors import DatasetInputError
from lift.config.lift import LiftSettings
from lift.method import learner
from lift.method.language_model import BaseModel
from lift.method.tasks import Answers, Classification, Regression, averaged_answers
from lift.project.datasets import AdapterDataset
from test_adapter_dataset import trained_adapter
from test_fine_tuning import FAST, letter_prompts, number_prompts

PROBABILITIES = ["proba_0", "proba_1", "proba_2"]


def settings_of(seed: int = 0, ensemble: int = 1, **more) -> LiftSettings:
    training = {**FAST["training"], "epochs": 2, "seed": seed, "ensemble": ensemble}
    return LiftSettings.from_params({**FAST, "training": training, **more})


def assert_same_weights(first, second, tolerance=0.0):
    assert first.weights.keys() == second.weights.keys()
    for key, value in first.weights.items():
        torch.testing.assert_close(value, second.weights[key], rtol=0, atol=tolerance)


def test_an_ensemble_is_its_seeds_trained_alone_and_answers_their_mean(tiny_model_dir):
    base = BaseModel("tiny", tiny_model_dir)
    prompts, task = letter_prompts(6), Classification(3)
    scored = {"generation": {"mode": "score"}}
    ensemble = learner.fine_tune("letters", base, prompts, task, settings_of(0, 2, **scored))
    alone = [
        learner.fine_tune("letters", base, prompts, task, settings_of(seed, **scored))
        for seed in (0, 1)
    ]
    (adapter,) = ensemble.values()
    assert len(adapter.members) == 1 and len(adapter.ensemble) == 2
    # trained together, as each alone (up to the rounding of adapters batched together)
    for member, single in zip(adapter.ensemble, alone, strict=True):
        assert_same_weights(member, single[0], tolerance=1e-6)
        assert member.best_epoch == single[0].best_epoch
        assert [h["validation_accuracy"] for h in member.history] == [
            h["validation_accuracy"] for h in single[0].history
        ]
    # every member's outcome is recorded, with its seed
    assert [c["seed"] for c in adapter.candidates] == [0, 1]
    assert [c["best_epoch"] for c in adapter.candidates] == [s[0].best_epoch for s in alone]

    def lift_rows(adapters, ensemble):
        settings = settings_of(0, ensemble, **scored)
        predictions = learner.predict("letters", base, adapters, prompts, task, settings)
        return predictions[predictions["model"] == learner.LIFT]

    answered, each = lift_rows(ensemble, 2), [lift_rows(single, 1) for single in alone]
    assert not np.allclose(each[0][PROBABILITIES], each[1][PROBABILITIES])
    mean = (each[0][PROBABILITIES].to_numpy() + each[1][PROBABILITIES].to_numpy()) / 2
    np.testing.assert_allclose(answered[PROBABILITIES].to_numpy(), mean, atol=1e-5)
    assert (answered["y_pred"].to_numpy() == mean.argmax(axis=1)).all()
    assert answered["row"].tolist() == each[0]["row"].tolist()
    assert set(answered["lift_status"]) == {adapter.ensemble_status}


def test_an_ensemble_of_numbers_answers_the_mean_of_its_adapters(tiny_model_dir):
    base = BaseModel("tiny", tiny_model_dir)
    prompts, task = number_prompts(6), Regression()
    ensemble = learner.fine_tune("numbers", base, prompts, task, settings_of(0, 2))
    (adapter,) = ensemble.values()
    rows = prompts[prompts["split"] == "test"]
    train = prompts[prompts["split"] == "train"]
    settings = settings_of(0, 2)
    together = learner.answer_prompts(base, adapter, rows["prompt"], train, task, settings)
    each = [
        learner.answer_prompts(
            base, replace(member, members=()), rows["prompt"], train, task, settings
        )
        for member in adapter.ensemble
    ]
    mean = averaged_answers(each)
    np.testing.assert_allclose(together.predictions, mean.predictions)
    assert together.valid.tolist() == mean.valid.tolist()
    assert together.texts == [
        " || ".join(pair) for pair in zip(each[0].texts, each[1].texts, strict=True)
    ]


def test_averaged_numbers_are_the_mean_of_the_valid_answers():
    first = Answers(["1", "?", "?"], np.array([1.0, 5.0, 5.0]), np.array([True, False, False]))
    second = Answers(["3", "2", "?"], np.array([3.0, 2.0, 5.0]), np.array([True, True, False]))
    averaged = averaged_answers([first, second])
    assert averaged.predictions.tolist() == [2.0, 2.0, 5.0]  # the last: the stand-ins' mean
    assert averaged.valid.tolist() == [True, True, False]
    assert averaged.texts == ["1 || 3", "? || 2", "? || ?"]
    assert averaged_answers([first]) is first


def test_averaged_classes_average_probabilities_and_scores():
    first = Answers(
        ["0", "1"], np.array([0, 1]), np.array([True, True]), np.array([[0.6, 0.4], [0.4, 0.6]])
    )
    second = Answers(
        ["1", "x"], np.array([1, -1]), np.array([True, False]), np.array([[0.0, 1.0], [0.5, 0.5]])
    )
    averaged = averaged_answers([first, second])
    np.testing.assert_allclose(averaged.probabilities, [[0.3, 0.7], [0.45, 0.55]])
    assert averaged.predictions.tolist() == [1, 1] and averaged.valid.tolist() == [True, True]


def test_an_ensemble_is_saved_and_loaded_with_its_members(tmp_path, tiny_model_dir):
    first, second, third = (trained_adapter(tiny_model_dir, seed) for seed in (0, 1, 2))
    adapters = {0: replace(first, members=(second, third)), 1: trained_adapter(tiny_model_dir, 3)}
    dataset = AdapterDataset(filepath=str(tmp_path / "adapters"), version=Version(None, "v1"))
    dataset.save(adapters)
    folder = tmp_path / "adapters" / "v1" / "adapters" / "repeat_0"
    assert {"member_1", "member_2", "adapter_model.safetensors"} <= {
        p.name for p in folder.iterdir()
    }
    loaded = AdapterDataset(filepath=str(tmp_path / "adapters"), version=Version(None, None)).load()
    assert len(loaded[0].members) == 2 and loaded[1].members == ()
    for ours, theirs in zip(loaded[0].ensemble, adapters[0].ensemble, strict=True):
        assert_same_weights(ours, theirs)
    assert all(member.members == () for member in loaded[0].members)


def test_a_second_stage_refuses_to_start_from_an_ensemble(tiny_model_dir):
    base = BaseModel("tiny", tiny_model_dir)
    start = trained_adapter(tiny_model_dir, 0)
    start = replace(start, members=(trained_adapter(tiny_model_dir, 1),))
    with pytest.raises(DatasetInputError, match=r"Dataset 'letters'.*training.ensemble"):
        learner.fine_tune(
            "letters", base, letter_prompts(6), Classification(3), settings_of(), start=start
        )
