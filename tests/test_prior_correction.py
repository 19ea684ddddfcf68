"""The class prior taken out of scored classes, fitted on validation rows only."""

import numpy as np
import pytest

from lift.config.lift import LiftSettings
from lift.method import learner
from lift.method.language_model import BaseModel
from lift.method.prior_correction import equal_prior_biases, fit_prior_correction, softmax
from lift.method.tasks import Classification


def prior_bound_scores(n: int, seed: int, prior: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Scores of two balanced classes that rank the rows well (signal) but whose argmax is
    nearly always class 0 (a learned prior of ``prior`` nats)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    signal = np.where(truth == 1, 1.0, -1.0) + rng.normal(0, 0.8, n)
    return np.column_stack([np.full(n, prior), signal]), truth


def accuracy(scores: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(scores.argmax(axis=1) == truth))


def test_equal_prior_biases_equalize_the_mean_probability_of_the_classes():
    scores, _ = prior_bound_scores(200, 0)
    corrected = softmax(scores + equal_prior_biases(scores)).mean(axis=0)
    raw = softmax(scores).mean(axis=0)
    assert raw[0] > 0.7
    assert abs(corrected[0] - corrected[1]) < abs(raw[0] - raw[1]) / 5


def test_a_correction_fitted_on_validation_rows_frees_test_rows_from_the_prior():
    validation, truth = prior_bound_scores(60, 1)
    test, test_truth = prior_bound_scores(400, 2)
    correction = fit_prior_correction(validation, truth)
    assert correction.strength > 0
    assert correction.corrected_validation_accuracy > correction.validation_accuracy
    assert accuracy(test, test_truth) < 0.6  # the prior decides
    assert accuracy(correction.apply(test), test_truth) > 0.8


def test_no_correction_where_the_scores_have_no_prior_to_remove():
    validation, truth = prior_bound_scores(60, 3, prior=0.0)
    correction = fit_prior_correction(validation, truth)
    assert correction.strength == 0.0  # ties go to the smallest strength
    np.testing.assert_array_equal(correction.biases, 0.0)
    assert correction.corrected_validation_accuracy == correction.validation_accuracy


def test_reading_corrected_scores_keeps_them_with_the_answers():
    scores, truth = prior_bound_scores(50, 4)
    correction = fit_prior_correction(scores, truth)
    answers = Classification(2).read_scores(scores, correction)
    np.testing.assert_allclose(answers.scores, correction.apply(scores))
    np.testing.assert_allclose(answers.probabilities.sum(axis=1), 1.0)
    assert accuracy(answers.scores, truth) == correction.corrected_validation_accuracy


def fine_tuned_letters(model_dir: str, generation: dict) -> tuple:
    """The base model, letter prompts, one epoch's adapter on them, and the settings with
    ``generation``."""
    from test_fine_tuning import FAST, letter_prompts

    base = BaseModel("tiny", model_dir)
    prompts = letter_prompts(6)
    settings = LiftSettings.from_params(
        {**FAST, "training": {**FAST["training"], "epochs": 1}, "generation": generation}
    )
    adapters = learner.fine_tune("letters", base, prompts, Classification(3), settings)
    return base, prompts, adapters, settings


def letters_predictions(model_dir: str, generation: dict) -> tuple:
    """The letter prompts and the test predictions of an adapter fine-tuned on them."""
    base, prompts, adapters, settings = fine_tuned_letters(model_dir, generation)
    return prompts, learner.predict("letters", base, adapters, prompts, Classification(3), settings)


@pytest.mark.parametrize("correct_prior", [True, False])
def test_scored_predictions_report_the_corrected_model_beside_the_raw_one(
    tiny_model_dir, correct_prior
):
    prompts, predictions = letters_predictions(
        tiny_model_dir, {"mode": "score", "correct_prior": correct_prior}
    )
    test_rows = int((prompts["split"] == "test").sum())
    models = predictions["model"].value_counts().to_dict()
    if not correct_prior:
        assert models == {"lift": test_rows}
        return
    assert models == {"lift": test_rows, "lift_corrected": test_rows}
    corrected = predictions[predictions["model"] == "lift_corrected"]
    assert corrected["prior_strength"].nunique() == 1
    assert corrected["prior_strength"].iloc[0] in (0.0, 0.25, 0.5, 0.75, 1.0)
    raw = predictions[predictions["model"] == "lift"]
    assert (corrected["row"].to_numpy() == raw["row"].to_numpy()).all()


def test_generated_answers_with_also_score_put_the_scored_classes_beside_them(tiny_model_dir):
    base, prompts, adapters, settings = fine_tuned_letters(
        tiny_model_dir, {"mode": "generate", "also_score": True}
    )
    task = Classification(3)
    predictions = learner.predict("letters", base, adapters, prompts, task, settings)
    by_model = {model: rows for model, rows in predictions.groupby("model")}
    assert set(by_model) == {"lift", "lift_scored", "lift_corrected"}
    assert set(by_model["lift"]["answers"]) == {"generate"}
    assert set(by_model["lift_scored"]["answers"]) == {"score"}
    # the scored rows are the adapter's scores, as a scoring run gives them
    scoring = settings.overridden({"generation": {"mode": "score", "correct_prior": False}})
    scored = learner.predict("letters", base, adapters, prompts, task, scoring)
    np.testing.assert_allclose(
        by_model["lift_scored"][["proba_0", "proba_1", "proba_2"]].to_numpy(),
        scored[["proba_0", "proba_1", "proba_2"]].to_numpy(),
        atol=1e-6,
    )
    assert scored["answers"].eq("score").all()


def test_also_score_needs_classes():
    from lift.config.errors import DatasetInputError
    from lift.config.lift import reject_inconsistent

    settings = LiftSettings.from_params({"generation": {"also_score": True}})
    with pytest.raises(DatasetInputError, match="generation.also_score` is true"):
        reject_inconsistent(settings, "regression")
