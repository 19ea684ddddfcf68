"""``make paper`` (``lift.project.paper``): the plan with its tokens and estimate, the refusal
on a CPU, the run of every listed pipeline and the report, the resume; and conf/paper_smoke,
the same path end to end on this CPU."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import copy_project, python_module
from lift.config.errors import DatasetInputError
from lift.config.lift import GenerationSettings
from lift.evaluation import published
from lift.project import paper
from openml_standin import serve_openml


def paper_command(project: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m lift.project.paper *args`` in ``project``, as ``make paper`` runs it."""
    return python_module(project, "lift.project.paper", *args)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """A copy of the project (a tiny model) after a run of conf/paper_smoke (its plan written
    down) and a resumed one: each command's result, by name."""
    project = copy_project(tmp_path_factory.mktemp("paper"))
    smoke_file = project / "conf/paper_smoke/parameters.yml"
    parameters = yaml.safe_load(smoke_file.read_text())
    parameters["classification"]["datasets"]["moons"]["source"] = {"n_samples": 120}  # not 400
    smoke_file.write_text(yaml.safe_dump(parameters))
    results = {
        "run": paper_command(
            project, "run", "--env", "paper_smoke", "--allow-cpu", "--json", "plan.json"
        ),
        "resumed": paper_command(project, "run", "--env", "paper_smoke", "--allow-cpu"),
    }
    return project, results


def newest(folder: Path) -> Path:
    (version,) = sorted(folder.iterdir())[-1:]
    return next(version.iterdir())


def test_the_plan_counts_every_fine_tuning_and_estimates_the_time(smoke):
    project, results = smoke
    plan = json.loads((project / "plan.json").read_text())
    steps = plan["steps"]
    assert list(steps) == ["classification", "sample_complexity"]
    # iris and moons; iris at half and all of its training rows
    assert steps["classification"]["fine_tunings"] == 2
    assert steps["sample_complexity"]["fine_tunings"] == 2
    assert all(
        step["train_tokens"] > 0 and step["estimated_seconds"] > 0 for step in steps.values()
    )
    assert plan["estimated_seconds"] == pytest.approx(
        sum(step["estimated_seconds"] for step in steps.values()), abs=2
    )
    assert plan["device"] == "cpu" and plan["rates"]["train_tokens"] > 0
    assert re.search(r"sample_complexity +2 +[\d,]+ +\d+ s +to run", results["run"].stdout)


def test_on_a_cpu_the_run_is_refused_with_its_estimate_before_any_work(monkeypatch, capsys):
    class Estimated(paper.Plan):
        def seconds(self, step=None):
            return 300.0

    on_cpu = Estimated("paper_smoke", ["classification"], [], [], {}, "cpu", paper.Rates(1, 1, 1))
    monkeypatch.setattr(paper, "plan", lambda project: on_cpu)
    monkeypatch.setattr(paper, "kedro_run", lambda *args: pytest.fail("a pipeline was run"))
    assert paper.run(project=None) == 3
    said = capsys.readouterr()
    assert re.search(r"Refused: this machine has no GPU .* about 5 min", said.err)
    assert "ALLOW_CPU=1" in said.err and "About 5 min" in said.out  # the plan, printed


def test_the_smoke_run_runs_every_pipeline_then_the_report(smoke):
    project, results = smoke
    run = results["run"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "classification: done in" in run.stdout
    assert "sample_complexity: done in" in run.stdout
    reporting = project / "data/08_reporting"
    assert newest(reporting / "sample_complexity/results.csv").is_file()
    report = newest(reporting / "paper/report.md").read_text()
    counts = re.search(
        r"Of the paper's (\d+) published numbers: (\d+) reproduced, (\d+) better, "
        r"(\d+) worse, (\d+) not run",
        report,
    )
    total, *verdicts = map(int, counts.groups())
    assert total == len(published.numbers()) == sum(verdicts)
    comparison = pd.read_csv(newest(reporting / "paper/comparison.csv"))
    ran = comparison[comparison["dataset"].isin(["iris", "moons"])]
    ran = ran[ran["pipeline"] == "classification"]
    assert len(ran) == 7 and not ran["verdict"].str.startswith("not run").any()
    # the paper's numbers it quotes are those of the one source, each once
    keys = ["pipeline", "dataset", "model", "metric"]
    quoted = ran.merge(published.numbers(), on=keys, suffixes=("", "_published"))
    assert len(quoted) == len(ran)
    assert (quoted["mean"] == quoted["mean_published"]).all()
    assert "| classification | iris |  | lift (GPT-J 6B) | accuracy (%) | 96.67 ± 0.00 |" in report


def test_a_second_run_resumes_after_the_finished_pipelines(smoke):
    project, results = smoke
    resumed = results["resumed"]
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "classification: done " in resumed.stdout and "skipped" in resumed.stdout
    assert "done in" not in resumed.stdout  # nothing trained again
    progress = json.loads(
        (project / "data/08_reporting/paper/progress-paper_smoke.json").read_text()
    )
    assert set(progress) == {"classification", "sample_complexity"}
    assert len(list((project / "data/08_reporting/paper/report.md").iterdir())) == 2


def test_the_pipelines_to_run_are_checked_by_name():
    registered = ["classification", "regression", "sample_complexity", "predict"]
    assert paper.steps_of({"paper_run": {"pipelines": ["regression"]}}, registered) == [
        "regression"
    ]
    with pytest.raises(DatasetInputError, match=r"`paper_run.pipelines`.*\['clasification'\]"):
        paper.steps_of({"paper_run": {"pipelines": ["clasification"]}}, registered)
    with pytest.raises(DatasetInputError, match="list some of"):
        paper.steps_of({"paper_run": {"pipelines": ["predict"]}}, registered)


def test_a_pipeline_is_done_for_the_parameters_it_ran_with(tmp_path):
    progress = paper.Progress(tmp_path / "progress.json")
    parameters = {"classification": {"split": {"repeats": 3}}, "lift": {}, "label_noise": {}}
    progress.record("classification", parameters)
    again = paper.Progress(tmp_path / "progress.json")  # read back from the file
    assert list(again.done(["classification", "label_noise"], parameters)) == ["classification"]
    changed = {**parameters, "classification": {"split": {"repeats": 1}}}
    assert again.done(["classification"], changed) == {}
    # a study reads the tasks' settings: a change there runs it again too
    again.record("label_noise", parameters)
    assert "label_noise" not in again.done(["label_noise"], changed)


def test_answering_costs_follow_the_generation_settings():
    rates = paper.Rates(train_tokens=1000.0, generated=10.0, scored=20.0)
    assert rates.answering(GenerationSettings(mode="score")) == pytest.approx(0.05)
    generated = GenerationSettings(mode="generate", also_score=True)
    assert rates.answering(generated) == pytest.approx(0.1 + 0.05)
    sampled = GenerationSettings(mode="generate", samples=5, also_greedy=True)
    assert rates.answering(sampled) == pytest.approx(0.5 + 0.1)
    assert rates.answering(sampled, validation=True) == pytest.approx(0.1)


def test_openml_tables_offline_are_listed_and_data_fills_the_cache(tmp_path):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "class": ["a", "b", "a", "b"]})
    cache = tmp_path / "openml"
    with serve_openml(4243, frame, target="class") as (server, _):
        parameters = {
            "paper_run": {"pipelines": ["classification"]},
            "classification": {
                "openml_cache": str(cache),
                "datasets": {
                    "standin": {"source": {"kind": "openml", "id": 4243, "server": server}}
                },
            },
        }
        project = paper.Project(
            tmp_path, "paper", parameters, {"classification": None}, None, "data"
        )
        assert paper.fetch(project) == 0
    # the server is gone: the cache answers
    assert paper.offline_tables(["classification"], parameters) == []
    parameters["classification"]["datasets"]["standin"]["source"]["id"] = 4244
    (offline,) = paper.offline_tables(["classification"], parameters)
    assert offline.table == "classification.standin"
    assert "OpenML dataset 4244" in offline.reason and "make paper-data" in offline.reason
