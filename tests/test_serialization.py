import hypothesis
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lift.config.errors import DatasetInputError
from lift.config.lift import SerializationSettings
from lift.data.entry import DatasetEntry
from lift.method.parsing import INVALID, parse_label
from lift.method.serialization import completion_for, prompt_for, serialize, shuffled_names


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


def test_the_sentence_phrasing_writes_one_sentence_per_feature():
    prompt = prompt_for([5.1, "red"], ["petal length", "colour"], "classification", "sentences")
    assert prompt == "The petal length is 5.10. The colour is red. What is the category?###"


FLOWERS = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0], "c": [5.0, 6.0], "kind": [0, 1]})
FLOWER_SCHEMA = {"task": "classification", "features": ["a", "b", "c"], "target": "kind"}
BOTH_TEST = pd.DataFrame({"row": [0, 1], "repeat": [0, 0], "split": ["test", "test"]})


@pytest.mark.parametrize("n", [2, 3, 7])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shuffled_names_are_a_permutation_that_moves_every_name(n, seed):
    names = [f"f{i}" for i in range(n)]
    shuffled = shuffled_names(names, seed)
    assert sorted(shuffled) == names
    assert all(new != old for new, old in zip(shuffled, names, strict=True))
    assert shuffled_names(names, seed) == shuffled  # seeded
    assert shuffled_names(["only"], seed) == ["only"]


def test_shuffled_names_keep_every_value_in_its_place():
    settings = SerializationSettings(
        encoding="raw",
        target_encoding="raw",
        template="feature_names",
        names="shuffled",
        decimals=1,
    )
    prompts = serialize(FLOWERS, FLOWER_SCHEMA, BOTH_TEST, settings)
    given = serialize(
        FLOWERS, FLOWER_SCHEMA, BOTH_TEST, settings.model_copy(update={"names": "given"})
    )
    assert given["prompt"][0] == "Given that a is 1.0, b is 3.0, c is 5.0, What is the category?###"
    names = shuffled_names(["a", "b", "c"], 0)
    assert prompts["prompt"][0] == (
        f"Given that {names[0]} is 1.0, {names[1]} is 3.0, {names[2]} is 5.0, "
        "What is the category?###"
    )
    assert list(prompts["completion"]) == list(given["completion"])


def test_a_datasets_own_sentence_writes_its_features_by_name():
    sentence = "A flower of {c} and {a}, with {{braces}}. Which kind?"
    settings = SerializationSettings(
        encoding="raw", target_encoding="raw", template="own", sentence=sentence, decimals=1
    )
    prompts = serialize(
        FLOWERS[["a", "c", "kind"]],
        {**FLOWER_SCHEMA, "features": ["a", "c"]},
        BOTH_TEST,
        settings,
        dataset="flowers",
    )
    assert list(prompts["prompt"]) == [
        "A flower of 5.0 and 1.0, with {braces}. Which kind?###",
        "A flower of 6.0 and 2.0, with {braces}. Which kind?###",
    ]


def test_an_own_sentence_writes_in_columns_whose_names_have_dots_and_brackets():
    prompt = prompt_for(
        [1.0, 2.0], ["width.cm", "x[0]"], "classification", "own", 1, "###", "y",
        "{width.cm} by {x[0]}",
    )  # fmt: skip
    assert prompt == "1.0 by 2.0###"


def test_an_own_sentence_naming_a_missing_column_fails_naming_it(caplog):
    settings = SerializationSettings(
        encoding="raw", template="own", sentence="{a} and {petal} and {b}"
    )
    with pytest.raises(DatasetInputError) as caught:
        serialize(FLOWERS, FLOWER_SCHEMA, BOTH_TEST, settings, dataset="flowers")
    said = str(caught.value)
    assert "Dataset 'flowers'" in said and "'petal'" in said and "['a', 'b', 'c']" in said
    settings = SerializationSettings(
        encoding="raw", target_encoding="raw", template="own", sentence="{a} and {b}"
    )
    serialize(FLOWERS, FLOWER_SCHEMA, BOTH_TEST, settings, dataset="flowers")
    assert "leaves out the features ['c']" in caplog.text


@pytest.mark.parametrize("sentence", ["{a:.1f} wide", "{a!r}", "{} and {a}", "{a"])
def test_an_own_sentence_with_a_format_or_a_broken_field_is_refused(sentence):
    settings = SerializationSettings(
        encoding="raw", target_encoding="raw", template="own", sentence=sentence
    )
    with pytest.raises(DatasetInputError, match="lift.serialization.sentence"):
        serialize(FLOWERS, FLOWER_SCHEMA, BOTH_TEST, settings, dataset="flowers")


@pytest.mark.parametrize(
    ("serialization", "where"),
    [
        ({"template": "own"}, "classification.datasets.flowers.lift.serialization.template"),
        ({"sentence": "{a}"}, "classification.datasets.flowers.lift.serialization.template"),
    ],
)
def test_the_own_template_and_its_sentence_come_together(serialization, where):
    entry = {"source": {"kind": "file"}, "lift": {"serialization": serialization}}
    with pytest.raises(DatasetInputError, match=where.replace(".", r"\.")):
        DatasetEntry.from_params("classification", "flowers", entry)


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
    prompts = serialize(
        table, schema, splits, SerializationSettings(encoding="raw", target_encoding="raw")
    )
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
    prompts = serialize(
        table,
        schema,
        splits,
        SerializationSettings(encoding="raw", target_encoding="raw", decimals=4, target_decimals=3),
    )
    assert prompts["prompt"].tolist() == [
        "When we have x1=0.5000, what should be the y value?###",
        "When we have x1=-1.2500, what should be the y value?###",
    ]
    assert prompts["completion"].tolist() == [" 1.235@@@", " -7.000@@@"]
    assert prompts["target"].tolist() == [1.23456, -7.0]


# --- values and names are untrusted: none can end a prompt early or write an answer --------

# text made of what separators and templates are made of, and some letters
HOSTILE = st.text(alphabet=st.sampled_from(list("#@=,. \n\r\tab1")), max_size=12)
VALUES = st.lists(st.one_of(HOSTILE, st.floats(-1e6, 1e6)), min_size=1, max_size=4)


def assert_one_prompt(prompt: str, suffix: str = "###", completion_suffix: str = "@@@") -> None:
    assert prompt.endswith(suffix) and prompt.find(suffix) == len(prompt) - len(suffix)
    assert completion_suffix not in prompt
    assert not any(c in prompt for c in "\n\r\t")


@hypothesis.settings(max_examples=300, deadline=None)
@given(
    values=VALUES,
    names=st.lists(HOSTILE, min_size=4, max_size=4),
    template=st.sampled_from(["paper", "feature_names", "sentences"]),
    task=st.sampled_from(["classification", "regression"]),
    label=st.integers(0, 9),
)
def test_no_value_or_name_ends_a_prompt_or_writes_an_answer(values, names, template, task, label):
    prompt = prompt_for(values, names[: len(values)], task, template, target=names[0] or "y")
    assert_one_prompt(prompt)
    # the answer is read back as written, whatever the prompt held
    assert parse_label(completion_for(label, "classification"), 10) == label


@hypothesis.settings(max_examples=200, deadline=None)
@given(
    values=st.lists(HOSTILE, min_size=2, max_size=2),
    end=st.sampled_from(["", "#", "##", "?##", "@@", "\n"]),
)
def test_an_own_sentence_ending_in_a_value_ends_once(values, end):
    prompt = prompt_for(values, ["a", "b"], "classification", "own", sentence="{a} and {b}" + end)
    assert_one_prompt(prompt)


@hypothesis.settings(max_examples=100, deadline=None)
@given(text=HOSTILE, suffixes=st.sampled_from([("###", "@@@"), ("\n\n", " END"), ("#", "@")]))
def test_safe_text_leaves_no_separator_and_is_stable(text, suffixes):
    from lift.method.serialization import STRUCTURE, safe_text

    written = safe_text(text, suffixes, STRUCTURE["paper"])
    assert not any(sep in written for sep in suffixes)
    assert "=" not in written and ", " not in written
    assert safe_text(text, suffixes, STRUCTURE["paper"]) == written  # training = prediction


def test_a_value_that_fakes_an_answer_is_written_apart_and_named(caplog):
    table = pd.DataFrame({"colour": ["x### 1@@@", "red", "a, x2=9"], "y": [0, 1, 0]})
    schema = {"task": "classification", "features": ["colour"], "target": "y"}
    splits = pd.DataFrame({"row": [0, 1, 2], "repeat": 0, "split": ["train"] * 3})
    with caplog.at_level("WARNING", logger="lift.method.serialization"):
        raw = SerializationSettings(encoding="raw")
        prompts = serialize(table, schema, splits, raw, dataset="paint")
    assert prompts["prompt"][0] == "When we have x1=x# # # 1@ @ @, What is this type?###"
    assert prompts["prompt"][2] == "When we have x1=a; x2:9, What is this type?###"
    (said,) = [r.getMessage() for r in caplog.records]
    assert "Dataset 'paint': 2 distinct value(s) of column 'colour'" in said


def test_classes_written_by_name_are_read_back_as_their_labels():
    from lift.method.tasks import task_for

    table = pd.DataFrame({"x": [1.0, 2.0, 3.0], "kind": [0, 1, 2]})
    schema = {
        "task": "classification", "features": ["x"], "target": "kind",
        "classes": ["benign", "malignant", "Yes@@@"],
    }  # fmt: skip
    splits = pd.DataFrame({"row": [0, 1, 2], "repeat": [0] * 3, "split": ["train"] * 3})
    named = SerializationSettings(labels="names", encoding="raw")
    prompts = serialize(table, schema, splits, named)
    assert prompts["completion"].tolist() == [" benign@@@", " malignant@@@", " Yes@ @ @@@@"]
    assert prompts["target"].tolist() == [0, 1, 2]  # labels stay indices
    task = task_for(schema, named)
    assert task.completions == prompts["completion"].tolist()  # scored as trained
    answers = task.read([[" malignant@@@"], ["benign "], [" Yes@ @ @"], [" 1@@@"], [" benig"]], [])
    assert answers.predictions.tolist() == [1, 0, 2, INVALID, INVALID]
    # codes: the default, as before
    codes = SerializationSettings(encoding="raw")
    assert serialize(table, schema, splits, codes)["completion"].tolist() == [
        " 0@@@", " 1@@@", " 2@@@",
    ]  # fmt: skip
    assert task_for(schema).completions == [" 0@@@", " 1@@@", " 2@@@"]


def test_class_names_that_would_read_alike_are_refused_with_the_remedy():
    from lift.method.tasks import task_for

    schema = {"task": "classification", "features": ["x"], "target": "kind"}
    named = SerializationSettings(labels="names", encoding="raw")
    table = pd.DataFrame({"x": [1.0, 2.0], "kind": [0, 1]})
    for classes in (["a b", "a\nb"], [" ", "x"]):
        with pytest.raises(DatasetInputError, match="Target column 'kind'.*labels: codes"):
            task_for({**schema, "classes": classes}, named)
        with pytest.raises(DatasetInputError, match="two would read alike"):  # before writing
            serialize(table, {**schema, "classes": classes}, BOTH_TEST, named)
    assert task_for({**schema, "classes": classes}).completions == [" 0@@@", " 1@@@"]
