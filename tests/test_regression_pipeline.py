"""The regression pipeline run with Kedro's SequentialRunner on small data in memory, with the
tiny model built in the test."""

import numpy as np
import pytest
from kedro.runner import SequentialRunner
from matplotlib.figure import Figure

from conftest import catalog_for as shared_catalog_for
from lift.config.errors import DatasetInputError
from lift.pipelines.regression import create_pipeline

SMALL = {"n_train": 40, "n_validation": 10, "n_test": 20}
DATASETS = {
    "linear_p1": {
        "source": {"kind": "synthetic", "name": "linear", "p": 1, **SMALL},
    },
    "cosine_p2": {"source": {"kind": "synthetic", "name": "cosine", "p": 2, **SMALL}},
    "mine": {"source": {"kind": "file"}, "target": "signal", "drop_columns": ["kind"]},
}
GRIDS = {"mean": {}, "polynomial": {"degree": [3]}, "knn": {"n_neighbors": [2, 5]}}


@pytest.fixture
def parameters(tmp_path):
    return {
        "lift": {
            "serialization": {"decimals": 4, "target_decimals": 3},
            "training": {"learning_rate": 0.03, "epochs": 2, "batch_size": 8, "seed": 0},
            "lora": {"rank": 4, "alpha": 8},
            "generation": {"samples": 1},
        },
        "openml_cache": str(tmp_path / "openml"),
        "split": {"test_size": 0.2, "validation_size": 0.2, "test_seed": 0, "repeats": 2},
        "baselines": {"seed": 0, "models": GRIDS},
        "extrapolation": {"low": -20, "high": 20, "points": 9, "baselines": ["polynomial", "knn"]},
        "datasets": DATASETS,
    }


def catalog_for(parameters, mixed_table, model_dir):
    return shared_catalog_for("regression", parameters, model_dir, {"mine": mixed_table})


def test_one_namespace_per_dataset_and_extrapolation_for_one_feature_functions(parameters):
    pipeline = create_pipeline(**parameters)
    extrapolation = {
        n.name for n in pipeline.nodes if n.name.endswith(("extrapolate", "extrapolation_grid"))
    }
    assert extrapolation == {
        "regression.linear_p1.extrapolation_grid",
        "regression.linear_p1.extrapolate",
    }
    assert pipeline.outputs() == {
        "regression.metrics",
        "regression.metrics_plot",
        "regression.linear_p1.extrapolation_plot",
    }


def test_pipeline_runs_and_reports_rae_for_every_dataset_and_model(
    parameters, mixed_table, tiny_model_dir
):
    outputs = SequentialRunner().run(
        create_pipeline(**parameters), catalog_for(parameters, mixed_table, tiny_model_dir)
    )
    loaded = {name: outputs[name].load() for name in outputs}
    metrics = loaded["regression.metrics"]
    assert {"dataset", "model", "rae", "rae_std", "rmse", "r2", "invalid_rate", "repeats"} <= set(
        metrics.columns
    )
    # the baselines, lift, and the two repeats' adapters averaged: one figure
    assert len(metrics) == len(DATASETS) * (len(GRIDS) + 2)
    averaged = metrics["model"] == "lift_averaged"
    assert set(metrics[~averaged]["repeats"]) == {2} and set(metrics[averaged]["repeats"]) == {1}
    assert set(metrics[averaged]["answers"]) == {"generate, 2 repeats averaged"}
    by_key = metrics.set_index(["dataset", "model"])
    # the test rows of a function are noiseless and fixed: 20 of them in both repeats
    assert by_key.loc[("linear_p1", "lift"), "n_test"] == 20
    assert by_key.loc[("linear_p1", "lift"), "paper_rae"] == 0.08
    assert by_key.loc[("linear_p1", "polynomial"), "rae"] < 0.1
    assert by_key.loc[("mine", "mean"), "rae"] == pytest.approx(1.0, abs=0.2)
    assert metrics["invalid_rate"].between(0, 1).all()
    assert (metrics.loc[~metrics["model"].str.startswith("lift"), "invalid_rate"] == 0).all()
    # the ensemble is invalid only where both repeats were
    assert (
        by_key.xs("lift_averaged", level="model")["invalid_rate"]
        <= by_key.xs("lift", level="model")["invalid_rate"]
    ).all()
    # an invalid LIFT answer is the training mean, still scored: every RAE is finite
    assert np.isfinite(metrics["rae"]).all()

    assert isinstance(loaded["regression.linear_p1.extrapolation_plot"], Figure)
    assert isinstance(loaded["regression.metrics_plot"], Figure)


def test_extrapolation_curves_hold_truth_lift_and_the_chosen_baselines(
    parameters, mixed_table, tiny_model_dir
):
    pipeline = create_pipeline(**parameters).only_nodes_with_namespaces(["regression.linear_p1"])
    catalog = catalog_for(parameters, mixed_table, tiny_model_dir)
    catalog["base_model"] = {"name": "tiny", "path": tiny_model_dir}
    pipeline = pipeline.to_outputs("regression.linear_p1.extrapolation")
    curves = SequentialRunner().run(pipeline, catalog)["regression.linear_p1.extrapolation"].load()
    assert set(curves["model"]) == {"truth", "lift", "polynomial", "knn"}
    truth = curves[curves["model"] == "truth"]
    np.testing.assert_allclose(truth["x"], np.linspace(-20, 20, 9))
    np.testing.assert_allclose(truth["y"], 0.9 * truth["x"])
    assert curves.groupby("model").size().eq(9).all()


def test_an_unfitted_extrapolation_baseline_is_named(parameters, mixed_table, tiny_model_dir):
    parameters["extrapolation"]["baselines"] = ["gaussian_process"]
    parameters["datasets"] = {"linear_p1": DATASETS["linear_p1"]}
    with pytest.raises(DatasetInputError, match=r"extrapolation.baselines` names \['gaussian_pro"):
        SequentialRunner().run(
            create_pipeline(**parameters), catalog_for(parameters, mixed_table, tiny_model_dir)
        )


def test_a_text_target_fails_with_the_dataset_and_column(parameters, mixed_table, tiny_model_dir):
    parameters["datasets"] = {"mine": {"source": {"kind": "file"}, "target": "kind"}}
    with pytest.raises(DatasetInputError, match=r"Dataset 'mine': regression needs a numeric"):
        SequentialRunner().run(
            create_pipeline(**parameters), catalog_for(parameters, mixed_table, tiny_model_dir)
        )


def test_no_datasets_is_an_error():
    with pytest.raises(DatasetInputError, match="`regression.datasets` is empty"):
        create_pipeline(datasets={"diabetes": None})


def test_a_dataset_overrides_the_tasks_lift_settings(parameters):
    from lift.pipelines.tabular.nodes import configure

    params = {**DATASETS["linear_p1"], "lift": {"training": {"epochs": 7}}}
    settings = configure(params, parameters["lift"], dataset="linear_p1", task="regression")
    training = settings.lift.training.to_json()
    assert {**training, "epochs": 2} == {**training, **parameters["lift"]["training"]}
    assert settings.lift.training.epochs == 7
    assert settings.lift.lora.rank == parameters["lift"]["lora"]["rank"]
    assert parameters["lift"]["training"]["epochs"] == 2  # the task's settings are untouched
    params["lift"] = {"training": {"epoch": 7}}
    with pytest.raises(
        DatasetInputError,
        match=r"Dataset 'linear_p1': parameter `regression.datasets.linear_p1.lift.training.epoch`",
    ):
        configure(params, parameters["lift"], dataset="linear_p1", task="regression")
