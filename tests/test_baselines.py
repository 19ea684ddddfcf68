import numpy as np
import pytest

from conftest import SMALL_GRIDS
from lift.config.errors import DatasetInputError
from lift.data.preprocessing import prepare_table
from lift.data.splits import split_rows
from lift.evaluation.baselines import fit_baselines, fit_classifier, predict_baselines


@pytest.fixture
def prepared(mixed_table):
    table, schema = prepare_table("mixed", mixed_table, "kind", "classification")
    return table, schema, split_rows("mixed", table["kind"], repeats=2)


def test_baselines_are_fitted_per_repeat_and_beat_the_majority(prepared):
    table, schema, splits = prepared
    models = fit_baselines("mixed", table, schema, splits, SMALL_GRIDS)
    assert sorted(models) == [0, 1]
    assert list(models[0]) == list(SMALL_GRIDS)
    predictions = predict_baselines(models, table, schema, splits)
    n_test = (splits["split"] == "test").sum() // 2
    assert len(predictions) == 2 * len(SMALL_GRIDS) * n_test
    accuracy = (predictions["y_true"] == predictions["y_pred"]).groupby(predictions["model"]).mean()
    assert accuracy["logistic_regression"] > accuracy["majority"] + 0.2


def test_grid_search_picks_from_the_grid_and_is_reproducible(prepared):
    table, schema, _ = prepared
    features, labels = table[schema["features"]], table["kind"].to_numpy()
    grid = {"n_neighbors": [1, 3, 7]}
    first = fit_classifier("knn", grid, schema, features, labels, cv_folds=3)
    second = fit_classifier("knn", grid, schema, features, labels, cv_folds=3)
    assert first.best_params_["n_neighbors"] in grid["n_neighbors"]
    assert first.best_params_ == second.best_params_ and first.cv_score_ == second.cv_score_
    np.testing.assert_array_equal(first.predict(features), second.predict(features))


def test_probabilities_follow_the_sklearn_contract(prepared):
    table, schema, _ = prepared
    features, labels = table[schema["features"]], table["kind"].to_numpy()
    model = fit_classifier("logistic_regression", {"C": [1]}, schema, features, labels)
    probabilities = model.predict_proba(features)
    assert probabilities.shape == (len(features), 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1)


def test_unknown_model_names_the_known_ones(prepared):
    table, schema, splits = prepared
    with pytest.raises(DatasetInputError, match=r"unknown models \['catboost'\].*'knn'"):
        fit_baselines("mixed", table, schema, splits, {"catboost": {}})


@pytest.fixture
def quadratic():
    from lift.data import synthetic

    raw = synthetic.function_table("quadratic", p=1, seed=0)
    table, schema = prepare_table("quadratic", raw, "y", task="regression", split_column="split")
    splits = split_rows("quadratic", table["y"], stratify=False, given=table["split"])
    return table, schema, splits


def test_regressors_are_chosen_on_validation_mse(quadratic):
    from lift.data.splits import rows_of
    from lift.evaluation.baselines import fit_regressor

    table, schema, splits = quadratic
    features, targets = table[schema["features"]], table["y"].to_numpy()
    train, validation = rows_of(splits, 0, "train"), rows_of(splits, 0, "validation")
    grid = {"n_neighbors": [1, 5, 60]}
    chosen = fit_regressor(
        "knn",
        grid,
        schema,
        (features.iloc[train], targets[train]),
        (features.iloc[validation], targets[validation]),
    )
    scores = {}
    for k in grid["n_neighbors"]:
        model = fit_regressor(
            "knn",
            {"n_neighbors": [k]},
            schema,
            (features.iloc[train], targets[train]),
            (features.iloc[validation], targets[validation]),
        )
        scores[k] = model.validation_mse_
    assert chosen.best_params_ == {"n_neighbors": min(scores, key=scores.get)}
    assert chosen.validation_mse_ == min(scores.values())


def test_a_neighbourhood_is_cut_to_a_few_training_rows(quadratic):
    from lift.data.splits import rows_of
    from lift.evaluation.baselines import fit_regressor

    table, schema, splits = quadratic
    features, targets = table[schema["features"]], table["y"].to_numpy()
    few, validation = rows_of(splits, 0, "train")[:3], rows_of(splits, 0, "validation")
    model = fit_regressor(
        "knn",
        {"n_neighbors": [2, 8]},
        schema,
        (features.iloc[few], targets[few]),
        (features.iloc[validation], targets[validation]),
    )
    assert model.best_params_["n_neighbors"] in (2, 3)
    assert model.predict(features.iloc[validation]).shape == (len(validation),)


def test_regression_baselines_fit_the_quadratic(quadratic):
    from lift.evaluation.metrics import score_predictions

    table, schema, splits = quadratic
    grids = {"mean": {}, "polynomial": {"degree": [3]}, "gaussian_process": {}}
    models = fit_baselines("quadratic", table, schema, splits, grids)
    predictions = predict_baselines(models, table, schema, splits)
    assert predictions["y_pred"].dtype == float
    rae = score_predictions("quadratic", predictions, splits, "regression").set_index("model")[
        "rae"
    ]
    # the paper: polynomial .01, GP .01 (RAE); predicting the mean is 1 by construction
    assert rae["polynomial"] < 0.05 and rae["gaussian_process"] < 0.05
    assert rae["mean"] == pytest.approx(1.0, abs=0.05)


def test_a_classifier_name_is_refused_for_regression(quadratic):
    table, schema, splits = quadratic
    with pytest.raises(DatasetInputError, match=r"`regression.baselines.models` names unknown"):
        fit_baselines("quadratic", table, schema, splits, {"xgboost": {}})
