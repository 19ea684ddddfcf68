import pandas as pd
import pytest

from lift.errors import DatasetInputError
from lift.lift_settings import SerializationSettings
from lift.parsing import INVALID, parse_label
from lift.serialization import completion_for, prompt_for, serialize


def test_the_papers_template_exactly():
    prompt = prompt_for([5.1, 3.5, 1.4, 0.2], ["a", "b", "c", "d"], "classification")
    assert prompt == "When we have x1=5.10, x2=3.50, x3=1.40, x4=0.20, What is this type?###"
    assert completion_for(2, "classification") == " 2@@@"


def test_the_feature_name_variant_writes_names_and_text_values():
    prompt = prompt_for(
        [5.1, "red"], ["sepal length (cm)", "colour"], "classification", template="feature_names"
    )
    assert prompt == "Given that sepal length (cm) is 5.10, colour is red, What is the category?###"


def test_unknown_template_names_the_parameter():
    with pytest.raises(DatasetInputError, match="lift.serialization.template"):
        prompt_for([1.0], ["a"], "classification", template="poem")


def test_serialize_gives_one_row_per_split_entry():
    table = pd.DataFrame({"x": [0.5, 1.5, 2.5], "y": [0, 1, 0]})
    schema = {"task": "classification", "features": ["x"], "target": "y"}
    splits = pd.DataFrame(
        {
            "row": [0, 1, 2, 2],
            "repeat": [0, 0, 0, 1],
            "split": ["train", "validation", "test", "test"],
        }
    )
    prompts = serialize(table, schema, splits)
    columns = ["repeat", "split", "row", "encoding", "prompt", "completion", "target"]
    assert list(prompts.columns) == columns
    assert set(prompts["encoding"]) == {"raw"}
    assert prompts["prompt"].tolist()[2:] == ["When we have x1=2.50, What is this type?###"] * 2
    assert prompts["completion"].tolist() == [" 0@@@", " 1@@@", " 0@@@", " 0@@@"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" 2@@@", 2),
        ("2", 2),
        (" 0@@@ 1@@@", 0),
        (" 1\nmore text", 1),
        ("  1 @@@", 1),
        (" 3@@@", INVALID),  # not a class of a 3-class problem
        (" setosa", INVALID),
        ("", INVALID),
        (" 1 or 2", INVALID),
        (" -1", INVALID),
    ],
)
def test_parsing_rule(text, expected):
    assert parse_label(text, n_classes=3) == expected


def test_the_papers_regression_template_exactly():
    prompt = prompt_for([-3.14159, 0.5], ["a", "b"], decimals=4, task="regression")
    assert prompt == "When we have x1=-3.1416, x2=0.5000, what should be the y value?###"
    assert completion_for(2.71828, task="regression") == " 2.718@@@"
    assert completion_for(-0.0004, task="regression") == " -0.000@@@"
    named = prompt_for([1.0], ["age"], "regression", "feature_names", 4, target="progression")
    assert named == "Given that age is 1.0000, what should be the progression value?###"


def test_serialize_a_regression_table():
    table = pd.DataFrame({"x1": [0.5, -1.25], "y": [1.23456, -7.0]})
    schema = {"task": "regression", "features": ["x1"], "target": "y"}
    splits = pd.DataFrame({"row": [0, 1], "repeat": [0, 0], "split": ["train", "test"]})
    prompts = serialize(table, schema, splits, SerializationSettings(decimals=4, target_decimals=3))
    assert prompts["prompt"].tolist() == [
        "When we have x1=0.5000, what should be the y value?###",
        "When we have x1=-1.2500, what should be the y value?###",
    ]
    assert prompts["completion"].tolist() == [" 1.235@@@", " -7.000@@@"]
    assert prompts["target"].tolist() == [1.23456, -7.0]
