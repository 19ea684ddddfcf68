import logging

import numpy as np
import pandas as pd
import pytest

from lift.config.errors import DatasetInputError
from lift.data.preprocessing import feature_encoder, prepare_table


def test_labels_are_encoded_in_sorted_order_and_class_names_kept(mixed_table):
    table, schema = prepare_table("mixed", mixed_table, "kind", "classification")
    assert schema["classes"] == ["high", "low", "mid"]
    expected = mixed_table["kind"].map({"high": 0, "low": 1, "mid": 2})
    assert table["kind"].tolist() == expected.tolist()


def test_raw_feature_values_are_kept_for_the_prompts(mixed_table):
    table, schema = prepare_table("mixed", mixed_table, "kind", "classification")
    assert schema["numeric_features"] == ["signal", "noise"]
    assert schema["categorical_features"] == ["colour"]
    np.testing.assert_array_equal(table["signal"], mixed_table["signal"])
    assert table["colour"].tolist() == mixed_table["colour"].tolist()


def test_feature_columns_with_missing_values_are_dropped_and_logged(mixed_table, caplog):
    with caplog.at_level(logging.WARNING):
        table, schema = prepare_table("mixed", mixed_table, "kind", "classification")
    assert "gappy" not in table.columns
    assert schema["dropped_columns"] == {"gappy": "18 missing values"}
    assert "dropped feature column 'gappy' (18 missing values in 120 rows)" in caplog.text


def test_a_column_that_is_all_missing_is_dropped(mixed_table):
    mixed_table["empty"] = np.nan
    table, schema = prepare_table("mixed", mixed_table, "kind", "classification")
    assert "empty" not in table.columns
    assert schema["dropped_columns"]["empty"] == "120 missing values"


def test_rows_without_a_target_are_dropped(mixed_table, caplog):
    mixed_table.loc[[3, 5], "kind"] = None
    with caplog.at_level(logging.WARNING):
        table, schema = prepare_table("mixed", mixed_table, "kind", "classification")
    assert len(table) == 118 and schema["n_dropped_rows"] == 2
    assert "dropped 2 of 120 rows without a value in target column 'kind'" in caplog.text


def test_missing_target_column_names_the_dataset_column_and_the_parameter(mixed_table):
    with pytest.raises(DatasetInputError) as caught:
        prepare_table("mixed", mixed_table, "species", "classification")
    message = str(caught.value)
    assert "Dataset 'mixed' has no target column 'species'" in message
    assert "'signal'" in message and "`target` parameter" in message


def test_empty_table_is_an_error():
    with pytest.raises(DatasetInputError, match="Dataset 'void' is empty"):
        prepare_table("void", pd.DataFrame({"x": [], "y": []}), "y", "classification")


def test_single_class_is_an_error(mixed_table):
    mixed_table["kind"] = "only"
    with pytest.raises(DatasetInputError, match=r"Dataset 'mixed' has a single class \('only'\)"):
        prepare_table("mixed", mixed_table, "kind", "classification")


def test_free_text_feature_is_an_error_with_the_fix(mixed_table):
    mixed_table["comment"] = [f"note number {i}" for i in range(len(mixed_table))]
    with pytest.raises(DatasetInputError) as caught:
        prepare_table("mixed", mixed_table, "kind", "classification")
    message = str(caught.value)
    assert "column 'comment' holds text with 120 distinct values" in message
    assert "drop_columns" in message
    table, schema = prepare_table(
        "mixed", mixed_table, "kind", "classification", drop_columns=["comment"]
    )
    assert "comment" not in table.columns
    assert schema["dropped_columns"]["comment"] == "user: drop_columns"


def test_no_usable_feature_is_an_error():
    table = pd.DataFrame({"x": [np.nan, 1.0, 2.0], "y": ["a", "b", "a"]})
    with pytest.raises(DatasetInputError, match="no feature column left"):
        prepare_table("gaps", table, "y", "classification")


def test_dropping_an_unknown_column_is_an_error(mixed_table):
    with pytest.raises(DatasetInputError, match=r"`drop_columns` names \['nope'\]"):
        prepare_table("mixed", mixed_table, "kind", "classification", drop_columns=["nope"])


def test_encoder_standardizes_and_one_hot_encodes_with_train_statistics(mixed_table):
    table, schema = prepare_table("mixed", mixed_table, "kind", "classification")
    train, test = table.iloc[:60], table.iloc[60:]
    encoder = feature_encoder(schema).fit(train[schema["features"]])
    encoded_train = encoder.transform(train[schema["features"]])
    np.testing.assert_allclose(encoded_train[:, :2].mean(axis=0), 0, atol=1e-12)
    # the test rows are scaled with the training mean, not their own
    encoded_test = encoder.transform(test[schema["features"]])
    expected = (test["signal"] - train["signal"].mean()) / train["signal"].std(ddof=0)
    np.testing.assert_allclose(encoded_test[:, 0], expected)
    assert encoded_train.shape[1] == 2 + 3  # two numeric, three colours


def test_regression_keeps_a_numeric_target_and_the_split_column():
    raw = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0],
            "y": [0.5, 1.5, None, 2.5],
            "part": ["train", "Test", "train", "validation"],
        }
    )
    table, schema = prepare_table("fn", raw, "y", task="regression", split_column="part")
    assert schema["task"] == "regression" and "classes" not in schema
    assert schema["features"] == ["x"] and schema["split_column"] == "part"
    assert table["y"].tolist() == [0.5, 1.5, 2.5]
    assert table["part"].tolist() == ["train", "test", "validation"]


def test_a_text_regression_target_is_refused_with_its_values():
    raw = pd.DataFrame({"x": [1.0, 2.0], "y": ["low", "high"]})
    with pytest.raises(DatasetInputError, match=r"regression needs a numeric target.*'y'.*low"):
        prepare_table("fn", raw, "y", task="regression")


def test_a_bad_split_column_is_named():
    raw = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0], "part": ["train", "dev", "x"]})
    with pytest.raises(DatasetInputError, match=r"split column 'part'.*\['dev', 'x'\].*\['test'\]"):
        prepare_table("fn", raw, "y", task="regression", split_column="part")
    with pytest.raises(DatasetInputError, match="has no split column 'fold'"):
        prepare_table("fn", raw, "y", task="regression", split_column="fold")


def test_columns_sharing_a_name_in_a_csv_are_refused_naming_them(tmp_path):
    path = tmp_path / "probe.csv"
    path.write_text("a,b,a,y\n1,2,3,u\n4,5,6,v\n")
    raw = pd.read_csv(path)  # pandas renames the copy to a.1
    with pytest.raises(
        DatasetInputError, match=r"Dataset 'probe' has several columns named \['a'\]"
    ):
        prepare_table("probe", raw, "y", "classification")


def test_an_infinite_value_counts_as_missing_and_its_column_is_dropped_by_name(caplog):
    raw = pd.DataFrame(
        {"a": [1.0, np.inf, 3.0, 4.0], "b": [1.0, 2.0, 3.0, 4.0], "y": ["u", "v", "u", "v"]}
    )
    with caplog.at_level(logging.WARNING):
        table, schema = prepare_table("probe", raw, "y", "classification")
    assert schema["numeric_features"] == ["b"]
    assert schema["dropped_columns"] == {"a": "1 infinite values"}
    assert "dropped feature column 'a'" in caplog.text
    regression = pd.DataFrame({"b": [1.0, 2.0, 3.0], "y": [1.0, -np.inf, 2.0]})
    table, schema = prepare_table("probe", regression, "y", "regression")
    assert table["y"].tolist() == [1.0, 2.0]
