import numpy as np
import pandas as pd
import pytest

from lift.config.errors import DatasetInputError
from lift.data.splits import rows_of, split_rows


@pytest.fixture
def labels():
    return np.repeat([0, 1, 2], [100, 60, 40])


def test_protocol_is_64_16_20_and_stratified(labels):
    splits = split_rows("toy", labels, repeats=1)
    sizes = splits.groupby("split").size()
    assert sizes.to_dict() == {"test": 40, "train": 128, "validation": 32}
    for split in ("train", "validation", "test"):
        shares = np.bincount(labels[rows_of(splits, 0, split)]) / sizes[split]
        np.testing.assert_allclose(shares, [0.5, 0.3, 0.2], atol=0.02)


def test_every_repeat_shares_the_test_rows_and_partitions_the_rest(labels):
    splits = split_rows("toy", labels, repeats=3)
    test = rows_of(splits, 0, "test")
    trains = []
    for repeat in range(3):
        np.testing.assert_array_equal(rows_of(splits, repeat, "test"), test)
        train, validation = rows_of(splits, repeat, "train"), rows_of(splits, repeat, "validation")
        assert set(train) | set(validation) | set(test) == set(range(len(labels)))
        assert not set(train) & set(validation) and not set(train) & set(test)
        trains.append(set(train))
    assert trains[0] != trains[1] != trains[2]


def test_a_run_of_later_repeats_makes_them_as_a_run_of_all_does(labels):
    every = split_rows("toy", labels, repeats=3)
    later = split_rows("toy", labels, repeats=2, first_repeat=1)
    assert sorted(later["repeat"].unique()) == [1, 2]
    pd.testing.assert_frame_equal(
        later.reset_index(drop=True), every[every["repeat"] > 0].reset_index(drop=True)
    )


def test_splits_are_reproducible(labels):
    assert split_rows("toy", labels, repeats=2).equals(split_rows("toy", labels, repeats=2))


def test_a_class_too_rare_to_stratify_names_the_dataset():
    labels = np.array([0] * 30 + [1] * 30 + [2])
    with pytest.raises(DatasetInputError, match="Dataset 'rare': cannot make the stratified"):
        split_rows("rare", labels)


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        ({"test_size": 1.5}, "split.test_size"),
        ({"repeats": 0}, "split.repeats"),
        ({"first_repeat": -1}, "split.first_repeat"),
        ({"first_repeat": 1.5}, "split.first_repeat"),
    ],
)
def test_bad_split_parameters_are_named(labels, options, parameter):
    with pytest.raises(DatasetInputError, match=parameter):
        split_rows("toy", labels, **options)


def test_a_class_too_rare_to_stratify_is_named_not_numbered():
    labels = np.array([0] * 20 + [1] * 20 + [2])
    with pytest.raises(DatasetInputError, match=r"smallest classes: 'virginica' \(1 rows\)"):
        split_rows("rare", labels, class_names=["setosa", "versicolor", "virginica"])


def test_regression_splits_are_random_not_stratified():
    targets = np.linspace(0, 1, 100)
    splits = split_rows("toy", targets, stratify=False, repeats=2)
    assert splits.groupby(["repeat", "split"]).size().unstack().loc[0].to_dict() == {
        "test": 20,
        "train": 64,
        "validation": 16,
    }
    np.testing.assert_array_equal(rows_of(splits, 0, "test"), rows_of(splits, 1, "test"))


def test_a_given_split_fixes_the_test_rows_and_the_first_repeat():
    given = np.array(["train"] * 20 + ["validation"] * 5 + ["test"] * 10)
    splits = split_rows("fn", np.zeros(35), stratify=False, repeats=3, given=given)
    for repeat in range(3):
        np.testing.assert_array_equal(rows_of(splits, repeat, "test"), np.arange(25, 35))
        assert len(rows_of(splits, repeat, "validation")) == 5
        assert len(rows_of(splits, repeat, "train")) == 20
    np.testing.assert_array_equal(rows_of(splits, 0, "validation"), np.arange(20, 25))
    assert not np.array_equal(rows_of(splits, 1, "validation"), np.arange(20, 25))


@pytest.mark.parametrize(
    ("split", "said"),
    [
        ({"test_size": 1.5}, "`classification.split.test_size` is 1.5"),
        ({"validation_size": "a fifth"}, "`classification.split.validation_size` is 'a fifth'"),
        ({"repeats": 0}, "`classification.split.repeats` is 0"),
        ({"repeats": 2.5}, "`classification.split.repeats` is 2.5"),
        ({"test_seed": -1}, "`classification.split.test_seed` is -1"),
        ({"repeat": 3}, r"`classification.split` has unknown keys \['repeat'\]"),
    ],
)
def test_the_pipeline_refuses_bad_split_parameters_when_it_is_built(split, said):
    from lift.pipelines.classification import create_pipeline

    iris = {"source": {"kind": "sklearn", "name": "iris"}}
    with pytest.raises(DatasetInputError, match=said):
        create_pipeline(datasets={"iris": iris}, split=split)


def test_numbers_read_as_classes_are_named_with_their_column_and_the_regression_remedy():
    lengths = np.round(np.linspace(4.0, 8.0, 150), 1)
    classes = sorted(set(lengths))  # the table's target encoded as its class's index
    codes = pd.Series(np.searchsorted(classes, lengths), name="sepal_length")
    with pytest.raises(DatasetInputError) as caught:
        split_rows("flowers", codes, class_names=classes)
    said = str(caught.value)
    assert "41 classes of target column 'sepal_length'" in said
    assert "declare the dataset under `regression.datasets`" in said
