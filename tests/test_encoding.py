"""Number encodings: each round-trips within its precision, scales are fitted on the training
rows only, and prediction reads answers with the stored encoding."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from kedro.runner import SequentialRunner

from conftest import catalog_for
from lift.config.lift import SerializationSettings
from lift.data.splits import rows_of
from lift.method.encoding import fit_encodings
from lift.method.parsing import parse_number
from lift.method.serialization import serialize
from lift.pipelines.regression import create_pipeline
from lift.pipelines.tabular.nodes import predict_lift

ENCODINGS = ("raw", "significant", "standardized", "minmax", "quantile")


def diabetes_like(rows: int = 200, seed: int = 0) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Features of very different scales (diabetes' ±0.1, a count, a large amount), a target,
    and one repeat's splits: 120 train, 40 validation, 40 test rows."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame(
        {
            "bmi": rng.normal(0, 0.05, rows),
            "visits": rng.integers(0, 30, rows).astype(float),
            "income": rng.lognormal(10, 1, rows),
            "sex": rng.choice(["f", "m"], rows),
        }
    )
    table["y"] = 150 + 900 * table["bmi"] + rng.normal(0, 20, rows)
    schema = {
        "dataset": "toy",
        "task": "regression",
        "target": "y",
        "features": ["bmi", "visits", "income", "sex"],
        "numeric_features": ["bmi", "visits", "income"],
        "categorical_features": ["sex"],
    }
    names = ["train"] * 120 + ["validation"] * 40 + ["test"] * 40
    splits = pd.DataFrame({"row": np.arange(rows), "repeat": 0, "split": names})
    return table, schema, splits


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_each_encoding_round_trips_within_its_precision(encoding):
    table, schema, splits = diabetes_like()
    settings = SerializationSettings(encoding=encoding, decimals=2, digits=3)
    fitted = fit_encodings(table, schema, splits, settings).of(0)
    train = table.iloc[rows_of(splits, 0, "train")]
    for column in schema["numeric_features"]:
        scale = fitted.scales.get(column)
        for value in table[column]:
            text = fitted.write(column, value)
            back = fitted.read(column, text)
            if encoding == "raw":
                assert abs(back - value) <= 0.005 + 1e-12, (column, value, text)
            elif encoding == "significant":
                assert abs(back - value) <= 0.5e-2 * abs(value) + 1e-12, (column, value, text)
                assert len(text.lstrip("-").replace(".", "").strip("0")) <= 3, text
            elif encoding == "standardized":
                assert abs(back - value) <= 0.005 * scale.std + 1e-9, (column, value, text)
            elif encoding == "minmax":
                assert abs(back - value) <= (scale.high - scale.low) / 200 + 1e-9
            else:  # quantile: the value read back has the rank written, within a percent
                rank = np.mean(train[column] < back) + np.mean(train[column] == back) / 2
                assert 0 <= int(text) <= 100
                assert abs(100 * rank - int(text)) <= 1.5, (column, value, text)
    assert fitted.write("sex", "f") == "f"  # text is written as it is


def test_the_raw_encoding_is_the_papers_format():
    table, schema, splits = diabetes_like()
    fitted = fit_encodings(
        table, schema, splits, SerializationSettings(encoding="raw", decimals=4)
    ).of(0)
    assert fitted.write("bmi", 0.0380759) == "0.0381"
    assert fitted.write("income", 12345.678) == "12345.6780"
    significant = fit_encodings(
        table, schema, splits, SerializationSettings(encoding="significant", digits=3)
    ).of(0)
    assert significant.write("bmi", 0.0380759) == "0.0381"
    assert significant.write("bmi", -0.0446416) == "-0.0446"


def test_a_standardized_target_round_trips():
    table, schema, splits = diabetes_like()
    settings = SerializationSettings(
        encoding="raw", target_encoding="standardized", target_decimals=3
    )
    fitted = fit_encodings(table, schema, splits, settings).of(0)
    texts = [fitted.write_target(y) for y in table["y"]]
    back = fitted.read_targets(np.array([float(t) for t in texts]))
    np.testing.assert_allclose(back, table["y"], atol=0.0005 * fitted.target_std + 1e-9)
    train_targets = table["y"].iloc[rows_of(splits, 0, "train")]
    assert abs(np.mean([float(t) for t in texts[:120]])) < 1e-3  # z-scores of the train rows
    assert fitted.target_mean == pytest.approx(train_targets.mean())


@pytest.mark.parametrize("encoding", ["standardized", "minmax", "quantile"])
def test_scales_are_fitted_on_the_training_rows_only(encoding):
    table, schema, splits = diabetes_like()
    # the validation and test rows are shifted far away: a scale that saw them would move
    held_out = splits["split"] != "train"
    table.loc[held_out.to_numpy(), "visits"] += 1000.0
    table.loc[held_out.to_numpy(), "y"] += 1e4
    settings = SerializationSettings(encoding=encoding, target_encoding="standardized")
    fitted = fit_encodings(table, schema, splits, settings).of(0)
    train = table.iloc[rows_of(splits, 0, "train")]
    scale = fitted.scales["visits"]
    assert scale.mean == pytest.approx(train["visits"].mean())
    assert scale.high == train["visits"].max() < 1000
    assert fitted.target_mean == pytest.approx(train["y"].mean())
    prompts = serialize(table, schema, splits, settings)
    test_prompt = prompts.loc[prompts["split"] == "test", "prompt"].iloc[0]
    written = test_prompt.split("x2=")[1].split(",")[0]
    # a shifted test value lies far beyond every training value
    assert float(written) > {"standardized": 50, "minmax": 1000, "quantile": 99}[encoding]


def test_each_repeat_has_its_own_training_rows():
    table, schema, splits = diabetes_like()
    second = splits.assign(repeat=1)
    second["split"] = np.roll(second["split"].to_numpy(), 40)  # other train rows
    both = pd.concat([splits, second], ignore_index=True)
    settings = SerializationSettings(encoding="standardized")
    encodings = fit_encodings(table, schema, both, settings)
    for repeat in (0, 1):
        train = table.iloc[rows_of(both, repeat, "train")]
        assert encodings.of(repeat).scales["bmi"].mean == pytest.approx(train["bmi"].mean())
    assert encodings.of(0).scales["bmi"].mean != encodings.of(1).scales["bmi"].mean


def test_prediction_reads_answers_with_the_stored_encoding(tmp_path, tiny_model_dir):
    small = {"n_train": 40, "n_validation": 10, "n_test": 20}
    parameters = {
        "lift": {
            "serialization": {
                "encoding": "standardized",
                "target_encoding": "standardized",
                "decimals": 2,
                "target_decimals": 2,
            },
            "training": {"learning_rate": 0.03, "epochs": 3, "batch_size": 8, "seed": 0},
            "lora": {"rank": 4, "alpha": 8},
        },
        "openml_cache": str(tmp_path / "openml"),
        "split": {"repeats": 1},
        "baselines": {"seed": 0, "models": {"mean": {}}},
        "extrapolation": {"points": 5},
        "datasets": {"line": {"source": {"kind": "synthetic", "name": "linear", "p": 1, **small}}},
    }
    catalog = catalog_for("regression", parameters, tiny_model_dir, {})
    catalog["base_model"] = {"name": "tiny", "path": tiny_model_dir}
    pipeline = create_pipeline(**parameters).only_nodes_with_namespaces(["regression.line"])
    prefix = "regression.line"

    def run_to(name: str):
        return SequentialRunner().run(pipeline.to_outputs(name), catalog)[name].load()

    encodings, prompts = run_to(f"{prefix}.encoding"), run_to(f"{prefix}.prompts")
    adapters = run_to(f"{prefix}.adapters")
    fitted = encodings.of(0)
    train = prompts[prompts["split"] == "train"]
    assert fitted.target_mean == pytest.approx(train["target"].mean())
    written = train["completion"].map(parse_number)
    assert abs(written.mean()) < 0.01  # completions are z-scores
    # predict with a stored encoding whose target mean is moved by 100: the answers move too
    moved = encodings.model_copy(
        update={"repeats": [fitted.model_copy(update={"target_mean": fitted.target_mean + 100})]}
    )
    predictions = predict_lift(
        adapters,
        prompts,
        run_to(f"{prefix}.schema"),
        {"name": "tiny", "path": tiny_model_dir},
        moved,
        run_to(f"{prefix}.settings"),
    )
    valid = predictions[predictions["valid"]]
    assert len(valid) > 0
    decoded = moved.of(0).read_targets(valid["output"].map(parse_number).to_numpy())
    np.testing.assert_allclose(valid["y_pred"], decoded)
    # in the target's units: near the targets, not near their z-scores
    assert abs(valid["y_pred"].mean() - fitted.target_mean - 100) < 3 * fitted.target_std


@pytest.mark.parametrize("encoding", ["standardized", "minmax", "quantile", "principal"])
def test_a_small_whole_number_scale_is_written_as_it_is_by_the_scaled_encodings(encoding):
    table, schema, splits = diabetes_like()
    table["score"] = (np.arange(len(table)) % 10 + 1).astype(float)  # a 1-10 score
    schema = {**schema, "numeric_features": [*schema["numeric_features"], "score"]}
    settings = SerializationSettings(encoding=encoding)
    fitted = fit_encodings(table, schema, splits, settings).of(0)
    assert "score" not in fitted.scales and "visits" in fitted.scales  # 30 levels: scaled
    assert fitted.write("score", 7.0) == "7.00" and fitted.read("score", "7.00") == 7.0
    every = fit_encodings(
        table, schema, splits, settings.model_copy(update={"ordinal_levels": 0})
    ).of(0)
    assert "score" in every.scales


def measured_crabs(rows: int = 300, seed: int = 0) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """Three measurements that all grow with an animal's size, and a species that one
    measurement's share of the others tells apart (as crabs' species): no single measurement
    tells it, one principal component does. 180 train, 60 validation, 60 test rows."""
    rng = np.random.default_rng(seed)
    size = rng.normal(30, 6, rows)
    species = rng.integers(0, 2, rows)
    table = pd.DataFrame(
        {
            "length": size + rng.normal(0, 0.3, rows),
            "width": 1.1 * size + rng.normal(0, 0.3, rows),
            "depth": 0.45 * size + np.where(species == 1, 0.6, -0.6) + rng.normal(0, 0.2, rows),
            "sex": rng.choice(["F", "M"], rows),
            "species": species,
        }
    )
    schema = {
        "dataset": "crabs_like",
        "task": "classification",
        "target": "species",
        "classes": [0, 1],
        "features": ["length", "sex", "width", "depth"],
        "numeric_features": ["depth", "length", "width"],  # in another order than the row's
        "categorical_features": ["sex"],
    }
    names = ["train"] * 180 + ["validation"] * 60 + ["test"] * 60
    splits = pd.DataFrame({"row": np.arange(rows), "repeat": 0, "split": names})
    return table, schema, splits


def best_threshold_accuracy(values: np.ndarray, classes: np.ndarray) -> float:
    """The accuracy of the best one-number rule ``value > t`` (or ``<``) on these rows."""
    order = np.argsort(values)
    ones = np.concatenate([[0], np.cumsum(classes[order])])  # class 1 at or below each cut
    below = np.arange(len(values) + 1)
    right = (below - ones + ones[-1] - ones) / len(values)  # class 0 below, class 1 above
    return float(max(right.max(), 1 - right.min()))


def test_the_principal_encoding_writes_uncorrelated_z_scores_in_the_features_places():
    table, schema, splits = measured_crabs()
    settings = SerializationSettings(encoding="principal", template="feature_names")
    fitted = fit_encodings(table, schema, splits, settings).of(0)
    features = schema["features"]
    assert fitted.names(features) == ["component 1", "sex", "component 2", "component 3"]
    written = [fitted.write_row(features, row) for row in table[features].to_numpy()]
    assert all(row[1] in ("F", "M") for row in written)  # text as it is, in its place
    components = np.array([[float(row[i]) for i in (0, 2, 3)] for row in written])
    train = components[rows_of(splits, 0, "train")]
    np.testing.assert_allclose(train.mean(axis=0), 0, atol=0.01)
    np.testing.assert_allclose(train.std(axis=0), 1, atol=0.01)
    np.testing.assert_allclose(np.corrcoef(train.T), np.eye(3), atol=0.03)
    # the component of most variance first: the animal's size, on which length weighs most
    assert np.corrcoef(train[:, 0], table["length"].iloc[:180])[0, 1] > 0.99
    # no measurement tells the species alone; one component does, on the test rows too
    species, test = table["species"].to_numpy(), rows_of(splits, 0, "test")
    alone = [
        best_threshold_accuracy(table[c].to_numpy()[test], species[test])
        for c in schema["numeric_features"]
    ]
    component = max(best_threshold_accuracy(components[test, k], species[test]) for k in range(3))
    assert max(alone) < 0.75 < 0.95 < component, (alone, component)
    prompt = serialize(table, schema, splits, settings)["prompt"].iloc[0]
    assert prompt.startswith(f"Given that component 1 is {written[0][0]}, sex is {written[0][1]}")


def test_the_principal_encoding_is_fitted_on_the_training_rows_only():
    table, schema, splits = measured_crabs()
    held_out = (splits["split"] != "train").to_numpy()
    moved = table.copy()
    moved.loc[held_out, "depth"] += 100.0  # held-out rows far away: a fit that saw them moves
    settings = SerializationSettings(encoding="principal")
    fitted = fit_encodings(table, schema, splits, settings).of(0)
    fitted_moved = fit_encodings(moved, schema, splits, settings).of(0)
    assert fitted_moved.axes == fitted.axes and fitted_moved.spreads == fitted.spreads
    assert fitted_moved.scales == fitted.scales
    # a missing measurement counts as the training rows' mean
    row = list(table[schema["features"]].iloc[0])
    row_at_mean = list(row)
    row[3], row_at_mean[3] = np.nan, fitted.scales["depth"].mean
    assert fitted.write_row(schema["features"], row) == fitted.write_row(
        schema["features"], row_at_mean
    )
    with pytest.raises(ValueError, match="write_row"):
        fitted.write("depth", 1.0)


def test_the_own_sentence_cannot_write_principal_components():
    from lift.config.errors import DatasetInputError
    from lift.config.lift import LiftSettings, reject_inconsistent

    own = {"template": "own", "sentence": "A crab {length} long. Which species?"}
    for section in (
        {"serialization": {**own, "encoding": "principal"}},
        {"serialization": own, "selection": {"encoding": ["standardized", "principal"]}},
    ):
        settings = LiftSettings.from_params(section, task="classification")
        with pytest.raises(DatasetInputError, match="`principal` encoding writes components"):
            reject_inconsistent(settings, "classification")
