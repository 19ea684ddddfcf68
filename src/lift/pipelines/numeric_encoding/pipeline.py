"""The ``numeric_encoding`` study pipeline. Per table (``numeric_encoding.datasets``), in
namespace ``numeric_encoding.<task>.<name>``:

    configure -> acquire -> prepare -> split -> fit_baselines -> predict_baselines -> evaluate

and per encoding, in ``numeric_encoding.<task>.<name>.<encoding>``, on the same splits:

    configure (the encoding set) -> fit_encoding -> serialize -> fine_tune -> predict_lift
        -> score_encoding

then over everything: report -> results.csv and numeric_encoding.png under
data/08_reporting/numeric_encoding/. The tables are the tasks' own declarations
(``<task>.datasets``), so ``--env realdata`` studies the real-data suite."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Pipeline, node

from lift.data.entry import DatasetEntry
from lift.pipelines.numeric_encoding import nodes
from lift.pipelines.tabular import nodes as tabular_nodes
from lift.pipelines.tabular.pipeline import (
    base_model_node,
    baseline_nodes,
    bind,
    configure_node,
    data_nodes,
    lift_nodes,
    namespaced,
    nothing_to_study,
)
from lift.studies.numeric_encoding import STUDY, EncodingStudySettings


def variant(encoding: str) -> dict[str, Any]:
    """The LIFT settings a variant sets: its encoding, and no selection among encodings."""
    return {"serialization": {"encoding": encoding}, "selection": {"encoding": []}}


def table_pipeline(entry: DatasetEntry, encodings: list[str]) -> tuple[Pipeline, list[str]]:
    """The nodes of one table and the names of its scores (baselines, then each encoding)."""
    name, task = entry.name, entry.task
    table = f"{STUDY}.{task}.{name}"
    baselines = namespaced(
        [
            *data_nodes(entry),
            *baseline_nodes(entry),
            node(
                bind(tabular_nodes.evaluate, dataset=name, task=task),
                ["splits", "baseline_predictions"],
                "scores",
                name="evaluate",
                tags="reporting",
            ),
        ],
        entry,
        table,
    )
    parts, scores = [baselines], [f"{table}.scores"]
    for encoding in encodings:
        steps = [
            configure_node(entry, variant(encoding)),
            *lift_nodes(),
            node(
                bind(nodes.score_encoding, dataset=name, task=task, encoding=encoding),
                ["splits", "lift_predictions", "adapters"],
                "scores",
                name="score_encoding",
                tags="reporting",
            ),
        ]
        shared = {artifact: f"{table}.{artifact}" for artifact in ("table", "schema", "splits")}
        parts.append(namespaced(steps, entry, f"{table}.{encoding}", **shared))
        scores.append(f"{table}.{encoding}.scores")
    return sum(parts, Pipeline([])), scores


def create_pipeline(study: Mapping[str, Any] | None, tasks: Mapping[str, Any]) -> Pipeline:
    """The study over the tables ``study`` names (the ``numeric_encoding`` section), whose
    parameters are in ``tasks`` (task -> its section). Every table's settings with every
    encoding are checked here, before any node runs."""
    settings = EncodingStudySettings.parsed(study, STUDY)
    declared = {task: (section or {}).get("datasets") for task, section in tasks.items()}
    tables = settings.tables(declared)
    if not tables:
        return nothing_to_study(STUDY, settings.datasets)
    pipelines, scores, score_tasks = [], [], []
    for task, name in tables:
        section = tasks[task]
        params = section["datasets"][name]
        entry = DatasetEntry.from_params(task, name, params, section.get("lift"))
        for encoding in settings.encodings:  # the settings of every variant are valid too
            DatasetEntry.from_params(task, name, params, section.get("lift"), variant(encoding))
        pipeline, names = table_pipeline(entry, list(settings.encodings))
        pipelines.append(pipeline)
        scores += names
        score_tasks += [task] * len(names)
    report = node(
        bind(nodes.report, tasks=score_tasks),
        scores,
        [f"{STUDY}.results", f"{STUDY}.figure"],
        name="report",
        tags="reporting",
        namespace=STUDY,
    )
    return Pipeline([base_model_node(), *pipelines, report])
