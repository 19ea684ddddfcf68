import pandas as pd
import pytest

from lift.errors import DatasetInputError
from lift.parsing import INVALID, parse_label
from lift.serialization import completion_for, prompt_for, serialize


def test_the_papers_template_exactly():
    prompt = prompt_for([5.1, 3.5, 1.4, 0.2], ["a", "b", "c", "d"])
    assert prompt == "When we have x1=5.10, x2=3.50, x3=1.40, x4=0.20, What is this type?###"
    assert completion_for(2) == " 2@@@"


def test_the_feature_name_variant_writes_names_and_text_values():
    prompt = prompt_for([5.1, "red"], ["sepal length (cm)", "colour"], template="feature_names")
    assert prompt == "Given that sepal length (cm) is 5.10, colour is red, What is the category?###"


def test_unknown_template_names_the_parameter():
    with pytest.raises(DatasetInputError, match="lift.serialization.template"):
        prompt_for([1.0], ["a"], template="poem")


def test_serialize_gives_one_row_per_split_entry():
    table = pd.DataFrame({"x": [0.5, 1.5, 2.5], "y": [0, 1, 0]})
    schema = {"features": ["x"], "target": "y"}
    splits = pd.DataFrame(
        {
            "row": [0, 1, 2, 2],
            "repeat": [0, 0, 0, 1],
            "split": ["train", "validation", "test", "test"],
        }
    )
    prompts = serialize(table, schema, splits)
    assert list(prompts.columns) == ["repeat", "split", "row", "prompt", "completion", "label"]
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
