"""The classification pipeline run with Kedro's SequentialRunner on small data in memory."""

import numpy as np
import pytest
from kedro.runner import SequentialRunner
from matplotlib.figure import Figure

from conftest import SMALL_GRIDS
from conftest import catalog_for as shared_catalog_for
from lift.config.errors import DatasetInputError
from lift.pipelines.classification import create_pipeline
from lift.pipelines.classification.nodes import CALIBRATED

DATASETS = {
    "iris": {"source": {"kind": "sklearn", "name": "iris"}},  # the paper's xgboost: 1.0
    "moons": {"source": {"kind": "synthetic", "name": "moons", "n_samples": 200, "seed": 123}},
    "mine": {"source": {"kind": "file"}, "target": "kind", "drop_columns": ["noise"]},
}


TINY_LIFT = {
    "training": {"learning_rate": 0.03, "epochs": 2, "batch_size": 8, "seed": 0},
    "lora": {"rank": 4, "alpha": 8},
}


@pytest.fixture
def parameters(tmp_path):
    return {
        "lift": TINY_LIFT,
        "openml_cache": str(tmp_path / "openml"),
        "split": {"test_size": 0.2, "validation_size": 0.2, "test_seed": 0, "repeats": 2},
        "baselines": {
            "search_splits": ["train"],
            "cv_folds": 3,
            "seed": 0,
            "n_jobs": 1,
            "models": SMALL_GRIDS,
        },
        "datasets": DATASETS,
    }


def catalog_for(parameters, mixed_table, model_dir):
    return shared_catalog_for("classification", parameters, model_dir, {"mine": mixed_table})


def test_pipeline_has_one_namespace_per_dataset(parameters):
    pipeline = create_pipeline(**parameters)
    for name in DATASETS:
        names = {
            n.name for n in pipeline.only_nodes_with_namespaces([f"classification.{name}"]).nodes
        }
        intake = "describe_file" if name == "mine" else "acquire"
        expected = {
            intake,
            "prepare",
            "split",
            "fit_baselines",
            "predict_baselines",
            "configure",
            "fit_encoding",
            "serialize",
            "fine_tune",
            "predict_lift",
            "evaluate",
            "calibration",
        }
        assert names == {f"classification.{name}.{n}" for n in expected}
    assert pipeline.outputs() == {
        "classification.metrics",
        "classification.metrics_plot",
        *(f"classification.{name}.calibration_plot" for name in DATASETS),
    }
    # a file dataset reads its raw table from the catalog; the others make theirs
    assert "classification.mine.raw_table" in pipeline.inputs()
    assert "classification.iris.raw_table" not in pipeline.inputs()


def test_pipeline_runs_and_reports_every_dataset_and_model(parameters, mixed_table, tiny_model_dir):
    outputs = SequentialRunner().run(
        create_pipeline(**parameters), catalog_for(parameters, mixed_table, tiny_model_dir)
    )
    catalog_outputs = {name: outputs[name].load() for name in outputs}
    metrics = catalog_outputs["classification.metrics"]
    assert isinstance(catalog_outputs["classification.metrics_plot"], Figure)
    # each dataset's reliability diagram: LIFT's scored answers and the baselines it names
    (axis,) = catalog_outputs["classification.iris.calibration_plot"].axes
    shown = set(axis.get_legend_handles_labels()[1])
    assert {"calibrated", "lift"} <= shown and shown - {"calibrated"} <= set(CALIBRATED)
    assert axis.get_title().startswith("iris: calibration")
    # the baselines, lift and (class scoring, the default) lift_corrected, and the two repeats'
    # adapters averaged: one figure
    assert len(metrics) == len(DATASETS) * (len(SMALL_GRIDS) + 3)
    assert set(metrics["model"]) == {*SMALL_GRIDS, "lift", "lift_corrected", "lift_averaged"}
    assert metrics["invalid_rate"].between(0, 1).all()
    averaged = metrics["model"] == "lift_averaged"
    assert set(metrics["dataset"]) == set(DATASETS) and set(metrics[~averaged]["repeats"]) == {2}
    assert set(metrics[averaged]["repeats"]) == {1}
    assert set(metrics[averaged]["answers"]) == {"score, 2 repeats averaged"}
    by_key = metrics.set_index(["dataset", "model"])
    assert by_key.loc[("iris", "logistic_regression"), "accuracy"] > 0.85
    assert by_key.loc[("iris", "xgboost"), "paper_accuracy"] == 1.0
    assert (
        by_key.loc[("mine", "logistic_regression"), "accuracy"]
        > by_key.loc[("mine", "majority"), "accuracy"]
    )
    assert by_key.loc[("iris", "majority"), "n_test"] == 30


def test_a_run_of_later_repeats_scores_them_as_a_run_of_all(parameters, tiny_model_dir):
    """`split.first_repeat`: a table's repeats run in separate sittings are the same repeats."""
    parameters["datasets"] = {"iris": DATASETS["iris"]}

    def scores(**split):
        parameters["split"] = {**parameters["split"], **split}
        # the nodes that make the table's scores: they are then an output of the run
        iris = create_pipeline(**parameters).to_outputs("classification.iris.scores")
        outputs = SequentialRunner().run(iris, catalog_for(parameters, None, tiny_model_dir))
        return outputs["classification.iris.scores"].load()

    every = scores(repeats=3)
    later = scores(first_repeat=1, repeats=2)
    assert sorted(later["repeat"].unique()) == [1, 2]
    averaged = later[later["model"] == "lift_averaged"]
    assert averaged["repeat"].tolist() == [1] and averaged["answers"].tolist() == [
        "score, 2 repeats averaged"
    ]
    by_key = ["model", "repeat"]
    each = later[later["model"] != "lift_averaged"].set_index(by_key).sort_index()
    same = every.set_index(by_key).loc[each.index]
    assert (each["n_train"] == same["n_train"]).all()
    np.testing.assert_allclose(each["accuracy"], same["accuracy"])
    np.testing.assert_allclose(each["log_loss"], same["log_loss"], rtol=1e-4)


def test_a_bad_dataset_fails_with_its_name(parameters, mixed_table, tiny_model_dir):
    parameters["datasets"] = {"mine": {"source": {"kind": "file"}, "target": "species"}}
    with pytest.raises(DatasetInputError, match="Dataset 'mine' has no target column 'species'"):
        SequentialRunner().run(
            create_pipeline(**parameters), catalog_for(parameters, mixed_table, tiny_model_dir)
        )


def test_no_datasets_is_an_error():
    with pytest.raises(DatasetInputError, match="`classification.datasets` is empty"):
        create_pipeline(datasets={})


def test_the_splits_feed_every_branch(parameters):
    # both branches start from the same splits
    pipeline = create_pipeline(**parameters).only_nodes_with_namespaces(["classification.iris"])
    consumers = {
        n.name.rsplit(".", 1)[1] for n in pipeline.nodes if "classification.iris.splits" in n.inputs
    }
    assert consumers == {
        "fit_baselines",
        "predict_baselines",
        "fit_encoding",
        "serialize",
        "evaluate",
    }
