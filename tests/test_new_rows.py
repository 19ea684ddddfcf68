"""New rows checked against the training table's schema (lift.method.new_rows), by name, never by
position."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lift.config.errors import DatasetInputError
from lift.data.preprocessing import prepare_table
from lift.method.new_rows import check_new_rows


@pytest.fixture
def schema(mixed_table):
    _, schema = prepare_table("mixed", mixed_table, "kind", "classification")
    return schema


def test_the_schema_keeps_each_categorical_features_values(schema):
    assert schema["categories"] == {"colour": ["blue", "green", "red"]}


def test_features_are_taken_by_name_and_other_columns_left_out(mixed_table, schema):
    new = mixed_table.head(4)[["colour", "kind", "noise", "signal"]].assign(id=range(4))
    features, unseen = check_new_rows("mixed", new, schema)
    assert list(features.columns) == schema["features"] == ["signal", "noise", "colour"]
    assert features["signal"].tolist() == mixed_table["signal"].head(4).tolist()
    assert unseen.tolist() == [""] * 4


def test_unseen_categories_are_listed_per_row(mixed_table, schema, caplog):
    new = mixed_table.head(3).assign(colour=["purple", "red", "teal"])
    _, unseen = check_new_rows("mixed", new, schema)
    assert unseen.tolist() == ["colour=purple", "", "colour=teal"]
    assert "column 'colour' holds values the training table never had" in caplog.text


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda t: t.drop(columns=["noise"]), "lack the feature columns ['noise']"),
        (lambda t: t.head(0), "the table has no rows"),
        (
            lambda t: t.assign(noise=np.where(np.arange(len(t)) == 2, np.nan, t["noise"])),
            "feature column 'noise' has 1 missing or infinite values (rows 2, counted",
        ),
        (
            lambda t: t.assign(signal=t["signal"].astype(str).where(t.index != 1, "n/a")),
            "feature column 'signal' was numeric in training and holds ['n/a']",
        ),
        (lambda t: t.assign(answer="x"), "have columns named ['answer']"),
    ],
)
def test_bad_new_rows_are_refused_naming_the_column(mixed_table, schema, change, said):
    with pytest.raises(DatasetInputError, match="New rows of dataset 'mixed'") as error:
        check_new_rows("mixed", change(mixed_table.head(5)), schema)
    assert said in str(error.value)


def test_numbers_written_as_text_are_read_as_numbers(mixed_table, schema):
    new = mixed_table.head(3).assign(signal=["1.5", "-2", "0.25"])
    features, _ = check_new_rows("mixed", new, schema)
    assert features["signal"].tolist() == [1.5, -2.0, 0.25]
    assert pd.api.types.is_float_dtype(features["signal"])


def test_the_predict_pipeline_without_new_rows_says_how_to_declare_them():
    from lift.pipelines.predict import create_pipeline

    (only,) = create_pipeline({"classification.iris.raw_table": {}}).nodes
    with pytest.raises(DatasetInputError, match=r"Add one named `<task>.<dataset>.new_rows`"):
        only.run({"params:predict": {"repeat": 0}})
    pipeline = create_pipeline({"regression.b.new_rows": {}, "classification.a.new_rows": {}})
    assert [n.name for n in pipeline.nodes] == [
        "classification.a.predict_new_rows",
        "regression.b.predict_new_rows",
    ]
    with pytest.raises(DatasetInputError, match="for task 'cluster'"):
        create_pipeline({"cluster.a.new_rows": {}})
