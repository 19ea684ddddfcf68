"""The numeric_encoding study: every encoding fine-tuned on the same splits of the same tables,
its results table and figure."""

import numpy as np
import pandas as pd
import pytest
from kedro.runner import SequentialRunner
from matplotlib.figure import Figure

from conftest import SMALL_GRIDS, catalog_for
from lift.config.errors import DatasetInputError
from lift.pipelines.numeric_encoding import create_pipeline
from lift.studies.numeric_encoding import compare_encodings

ENCODINGS = ["raw", "principal"]


@pytest.fixture
def tasks(tmp_path):
    return {
        "classification": {
            "lift": {
                "training": {"learning_rate": 0.03, "epochs": 1, "batch_size": 8, "seed": 0},
                "lora": {"rank": 4, "alpha": 8},
                "generation": {"mode": "score"},
            },
            "openml_cache": str(tmp_path / "openml"),
            "split": {"test_size": 0.2, "validation_size": 0.2, "test_seed": 0, "repeats": 1},
            "baselines": {"cv_folds": 3, "n_jobs": 1, "models": SMALL_GRIDS},
            "datasets": {
                "iris": {"source": {"kind": "sklearn", "name": "iris"}},
                "wine": None,  # switched off
            },
        },
        "regression": {"datasets": {}},
    }


STUDY = {"encodings": ENCODINGS, "datasets": {"classification": ["iris"]}}


def test_each_encoding_has_its_own_lift_branch_on_the_shared_splits(tasks):
    pipeline = create_pipeline(STUDY, tasks)
    names = {n.name for n in pipeline.nodes}
    table = "numeric_encoding.classification.iris"
    assert {f"{table}.split", f"{table}.fit_baselines", "numeric_encoding.report"} <= names
    for encoding in ENCODINGS:
        assert f"{table}.{encoding}.fine_tune" in names
        assert f"{table}.{encoding}.split" not in names
        serialize = next(n for n in pipeline.nodes if n.name == f"{table}.{encoding}.serialize")
        assert f"{table}.splits" in serialize.inputs
    assert pipeline.outputs() == {"numeric_encoding.results", "numeric_encoding.figure"}


@pytest.mark.parametrize(
    ("study", "said"),
    [
        (
            {**STUDY, "datasets": {"classification": ["nowhere"]}},
            "names 'nowhere', which is not a dataset of `classification.datasets`",
        ),
        ({**STUDY, "encodings": ["raw", "raw"]}, "names an encoding twice"),
        ({**STUDY, "encodings": ["zscore"]}, "`numeric_encoding.encodings[0]` is 'zscore'"),
        ({**STUDY, "encodings": []}, "`numeric_encoding.encodings`"),
        ({**STUDY, "datasets": {}}, "names no table"),
        ({**STUDY, "tables": []}, "the known ones are ['encodings', 'datasets']"),
    ],
)
def test_a_bad_study_stops_the_build_naming_its_parameter(tasks, study, said):
    with pytest.raises(DatasetInputError) as caught:
        create_pipeline(study, tasks)
    assert said in str(caught.value)


def test_a_table_an_environment_switches_off_is_left_out(tasks, caplog):
    assert tasks["classification"]["datasets"]["wine"] is None
    pipeline = create_pipeline({**STUDY, "datasets": {"classification": ["wine"]}}, tasks)
    assert [n.name for n in pipeline.nodes] == ["numeric_encoding.nothing_to_study"]
    with pytest.raises(DatasetInputError, match="switched off here"):
        pipeline.nodes[0].run({})


def test_the_study_runs_and_reports_every_encoding(tasks, tiny_model_dir):
    catalog = catalog_for("classification", tasks["classification"], tiny_model_dir, {})
    outputs = SequentialRunner().run(create_pipeline(STUDY, tasks), catalog)
    results = outputs["numeric_encoding.results"].load()
    assert isinstance(outputs["numeric_encoding.figure"].load(), Figure)
    lift = results[results["encoding"] != ""]
    assert set(lift["encoding"]) == set(ENCODINGS)
    assert set(lift["model"]) == {"lift", "lift_corrected"}
    assert lift["validation"].between(0, 1).all() and lift["value"].between(0, 1).all()
    assert lift.groupby("model")["selected"].sum().to_dict() == {"lift": 1, "lift_corrected": 1}
    baselines = results[results["encoding"] == ""]
    assert set(baselines["model"]) == set(SMALL_GRIDS)
    assert (results["metric"] == "accuracy").all() and (results["repeats"] == 1).all()


def test_validation_chooses_the_encoding_and_test_scores_are_averaged_over_repeats():
    def scores(encoding, test, validation):
        return pd.DataFrame(
            {
                "dataset": "t",
                "model": "lift",
                "repeat": [0, 1],
                "rae": test,
                "encoding": encoding,
                "validation": validation,  # rmse: lower is better
            }
        )

    results = compare_encodings(
        [scores("raw", [0.5, 0.7], [3.0, 3.0]), scores("quantile", [0.9, 0.9], [1.0, 2.0])],
        ["regression", "regression"],
    ).set_index("encoding")
    assert results.loc["raw", "value"] == pytest.approx(0.6)
    assert results.loc["raw", "std"] == pytest.approx(0.1)
    # chosen on validation, whatever the test says
    assert results["selected"].to_dict() == {"raw": False, "quantile": True}
    assert np.isclose(results.loc["quantile", "validation"], 1.5)
