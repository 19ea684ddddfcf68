"""LIFTClassifier and LIFTRegressor as scikit-learn estimators (lift.estimator): scikit-learn's
own estimator checks, and the tools that take estimators, with a tiny model built here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from conftest import make_mixed_table, shared_tiny_model
from lift.estimator import LIFTClassifier, LIFTRegressor

TINY = shared_tiny_model()
FAST = {"epochs": 1, "learning_rate": 0.03, "lora_rank": 4}


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    """No progress bars: scikit-learn's checks fit many times (this module's tests only: the
    variable would reach the `kedro run` subprocesses of other tests)."""
    monkeypatch.setenv("TQDM_DISABLE", "1")


# scikit-learn asks an estimator fitted in its check for 83 % training accuracy on blobs (R^2
# 0.5 on a regression): a tiny model with random weights fine-tuned for one epoch does not get
# there; how well LIFT learns is what the pipelines' and the embedded model's tests measure
NEEDS_A_REAL_MODEL = {
    "check_classifiers_train": "accuracy needs a pretrained model (tiny random model here)",
    "check_regressors_train": "R^2 needs a pretrained model (tiny random model here)",
}
# scikit-learn asks for the same probabilities to 1e-7 whether a row is answered alone or in a
# batch; a batch left-pads its shorter prompts (standardized numbers differ in length), which
# changes the order of the sums in the products: with bfloat16 products the probabilities
# agree to about 1e-3, in float32 to about 1e-6 (test_answers_do_not_depend_on_the_batch)
PADDED_BATCHES = {
    "check_methods_subset_invariance": "batches agree to bf16 precision, not to 1e-7 (below)",
}


@parametrize_with_checks(
    [LIFTClassifier(TINY, **FAST), LIFTRegressor(TINY, **FAST)],
    expected_failed_checks=lambda estimator: {
        **NEEDS_A_REAL_MODEL,
        **(PADDED_BATCHES if isinstance(estimator, LIFTClassifier) else {}),
    },
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def table() -> tuple[pd.DataFrame, pd.Series]:
    mixed = make_mixed_table().drop(columns=["gappy"])
    return mixed.drop(columns=["kind"]), mixed["kind"]


@pytest.fixture(scope="module")
def classifier(table) -> LIFTClassifier:
    X, y = table
    return LIFTClassifier(TINY, epochs=2, learning_rate=0.03, lora_rank=4).fit(X, y)


def test_a_classifier_answers_with_the_tables_classes_and_probabilities(classifier, table):
    X, y = table
    assert list(classifier.classes_) == ["high", "low", "mid"]
    assert list(classifier.feature_names_in_) == ["signal", "noise", "colour"]
    probabilities = classifier.predict_proba(X.head(10))
    assert probabilities.shape == (10, 3)
    assert np.allclose(probabilities.sum(axis=1), 1)
    predicted = classifier.predict(X.head(10))
    assert list(predicted) == list(classifier.classes_[probabilities.argmax(axis=1)])
    assert classifier.score(X, y) == pytest.approx(np.mean(classifier.predict(X) == y))
    # the adapter's history: one record per epoch, the kept one chosen on validation rows
    assert len(classifier.history_) == 2
    assert 0 <= classifier.history_[0]["validation_accuracy"] <= 1


def test_classes_written_by_name_are_trained_on_and_scored_by_name(table):
    X, y = table
    named = LIFTClassifier(
        TINY, epochs=1, learning_rate=0.03, lora_rank=4, lift={"serialization": {"labels": "names"}}
    ).fit(X, y)
    assert set(named.prompts_["completion"]) == {" high@@@", " low@@@", " mid@@@"}
    probabilities = named.predict_proba(X.head(6))
    assert probabilities.shape == (6, 3) and np.allclose(probabilities.sum(axis=1), 1)
    assert set(named.predict(X.head(6))) <= {"high", "low", "mid"}


def test_columns_are_matched_by_name(classifier, table):
    X, _ = table
    shuffled = X.head(8)[["colour", "noise", "signal"]].assign(extra=1)
    assert list(classifier.predict(shuffled)) == list(classifier.predict(X.head(8)))
    with pytest.raises(ValueError, match=r"lack the feature columns \['noise'\]"):
        classifier.predict(X.drop(columns=["noise"]))


def test_the_keywords_are_the_lift_settings(table):
    estimator = LIFTRegressor(
        TINY, lift={"training": {"epochs": 7}, "lora": {"dropout": 0.1}}, lora_rank=2
    )
    settings = estimator.settings()
    assert settings.training.epochs == 7 and settings.lora.dropout == 0.1
    assert (settings.lora.rank, settings.lora.alpha) == (2, 4)
    assert settings.generation.mode == "generate"  # a number is generated
    assert LIFTClassifier(TINY).settings().generation.mode == "score"
    assert LIFTClassifier(TINY, answer="generate").settings().generation.mode == "generate"
    with pytest.raises(ValueError, match=r"^LIFTClassifier: parameter `lift.training.epochs`"):
        LIFTClassifier(TINY, epochs=0).fit(*table)
    with pytest.raises(ValueError, match=r"^LIFTRegressor: parameter `lift.model` is not read"):
        LIFTRegressor(TINY, lift={"model": {"name": TINY}}).settings()


def test_cross_validation_grid_search_and_pipelines_take_it(table):
    X, y = table
    scores = cross_val_score(LIFTClassifier(TINY, **FAST), X, y, cv=2)
    assert scores.shape == (2,) and ((scores >= 0) & (scores <= 1)).all()
    search = GridSearchCV(
        LIFTRegressor(TINY, **FAST), {"epochs": [1, 2]}, cv=2, scoring="neg_mean_absolute_error"
    ).fit(X.drop(columns=["signal"]), X["signal"])
    assert search.best_params_["epochs"] in (1, 2)
    assert len(search.cv_results_["mean_test_score"]) == 2
    rounded = make_pipeline(
        FunctionTransformer(lambda frame: frame.round(1)), LIFTClassifier(TINY, **FAST)
    ).fit(X, y)
    assert set(rounded.predict(X.head(5))) <= {"high", "low", "mid"}


@pytest.mark.parametrize(("dtype", "tolerance"), [("auto", 2e-3), ("float32", 1e-5)])
def test_answers_do_not_depend_on_the_batch(dtype, tolerance):
    """scikit-learn's subset invariance at the precision of the products: each row answered
    alone gives its probabilities in the whole batch (shorter prompts left-padded there)."""
    X = 3 * np.random.RandomState(0).uniform(size=(20, 3))
    y = X[:, 0].astype(int)
    classifier = LIFTClassifier(TINY, lift={"dtype": dtype}, random_state=1, **FAST).fit(X, y)
    assert len(set(classifier.prompts_["prompt"].str.len())) > 1  # the batch is padded
    whole = classifier.predict_proba(X)
    alone = np.vstack([classifier.predict_proba(X[i : i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(alone, whole, atol=tolerance)


def test_a_single_class_is_refused_in_the_estimators_words():
    X = pd.DataFrame({"a": [0.1, 0.2, 0.3, 0.4]})
    with pytest.raises(ValueError, match=r"LIFTClassifier.fit: y holds a single class \('only'\)"):
        LIFTClassifier(TINY, **FAST).fit(X, ["only"] * 4)
