"""The paper's numbers are written once (lift/evaluation/published.csv), every one of them names
a table this project declares, and the reports read them from there."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import yaml

from lift.evaluation import published
from lift.evaluation.metrics import METRICS
from lift.pipelines import classification, regression
from lift.studies.designs import STUDIES

CONF = Path(__file__).resolve().parents[1] / "conf"


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for inner in value.values() for k in _keys(inner)}
    if isinstance(value, list):
        return {k for inner in value for k in _keys(inner)}
    return set()


def test_no_parameter_file_types_a_figure_of_the_paper():
    for path in sorted(CONF.glob("*/parameters*.yml")):
        text = path.read_text()
        assert "paper" not in _keys(yaml.safe_load(text)), path
        assert not re.search(r"^\s*#\s*paper:", text, re.MULTILINE), path  # nor a commented one


def test_every_number_belongs_to_a_pipeline_and_a_table_this_project_declares():
    numbers = published.numbers()
    assert list(numbers.columns) == list(published.COLUMNS)
    assert not numbers.duplicated(["pipeline", "dataset", "variant", "model"]).any()
    assert numbers["mean"].gt(0).all() and numbers["spread"].dropna().ge(0).all()
    assert set(numbers["pipeline"]) <= {"classification", "regression", *STUDIES}
    declared = "\n".join(p.read_text() for p in CONF.glob("*/parameters*.yml"))
    for (pipeline, dataset), rows in numbers.groupby(["pipeline", "dataset"]):
        # a table of that name in some environment (a commented one needs the network)
        assert re.search(rf"[\s\[,]{dataset}[:,\]]", declared), (pipeline, dataset)
        if pipeline in METRICS:
            assert set(rows["metric"]) == {METRICS[pipeline][0]}, (pipeline, dataset)
            assert (rows["variant"] == "").all()
        else:
            compared = STUDIES[pipeline].published_metric
            assert set(rows["metric"]) <= {"accuracy", "rae", *compared.values()}
            assert (rows["variant"] != "").all()
    lift = numbers[numbers["model"] == "lift"]
    assert lift["language_model"].str.startswith(("GPT-J 6B", "GPT-3")).all()


def test_the_reports_compare_with_the_numbers_of_the_source():
    iris = {"source": {"kind": "sklearn", "name": "iris"}}
    pipeline = classification.create_pipeline(datasets={"iris": iris})
    report = next(n for n in pipeline.nodes if n.name == "classification.report")
    assert report.func.keywords["published"]["iris"]["lift"] == 0.9667
    linear = {"source": {"kind": "synthetic", "name": "linear", "p": 1}}
    pipeline = regression.create_pipeline(datasets={"linear_p1": linear})
    report = next(n for n in pipeline.nodes if n.name == "regression.report")
    assert report.func.keywords["published"]["linear_p1"] == {
        "polynomial": 0.01,
        "gaussian_process": 0.01,
        "gradient_boosting": 0.05,
        "lift": 0.08,
    }
    two_stage = published.of_study("two_stage")["plane"]
    assert two_stage["fine_tune_1"] == {"lift": 1.97} and len(two_stage) == 16
    assert isinstance(published.numbers(), pd.DataFrame)
