"""The per-dataset pipeline both tasks share. Per dataset namespace ``<task>.<name>``:

    configure -> settings (the dataset's parameters and LIFT settings, validated)
    acquire (or describe_file) -> prepare -> split
        split -> fit_encoding -> serialize -> fine_tune -> predict_lift ---> evaluate
        split -> fit_baselines -> predict_baselines -------> evaluate

once for the run: prepare_base_model, and over all datasets: report. A task adds its own
steps to a dataset's namespace (regression: the extrapolation plot). Every dataset's settings
are validated when the pipeline is built, so a bad parameter stops a run before any work."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Node, Pipeline, node

from lift.config.errors import DatasetInputError, reject_unknown
from lift.config.lift import GroupingSettings, LiftSettings
from lift.data.entry import DatasetEntry, active, log_precedence
from lift.data.splits import check_split
from lift.evaluation import baselines, published
from lift.pipelines.tabular import nodes

# parameters every dataset of a task shares; they keep their names inside each namespace
SHARED_PARAMETERS = {"openml_cache", "split", "baselines", "lift", "extrapolation"}
BASE_MODEL = "base_model"  # shared by every dataset and task
TOGETHER = "fine_tune_together"  # the node that trains every dataset's adapters at once
# With `fine_tuning.group: together` every dataset namespace runs through that one node, so
# Kedro finds the namespaces "interrupted" (not units a deployment could split off): that is
# the choice the parameter makes, said in the docs, not a fault to warn of on every run.
warnings.filterwarnings(
    "ignore", message=rf"Namespace '.*' is interrupted by nodes \['\w+\.{TOGETHER}'\]"
)
# the keys of a task's section
KNOWN = ("datasets", "openml_cache", "split", "baselines", "lift", "fine_tuning")


def bind(function: Callable[..., Any], **keywords: Any) -> Callable[..., Any]:
    """``function`` with keywords bound (the dataset, the task), keeping its name for Kedro."""
    return update_wrapper(partial(function, **keywords), function)


def data_nodes(entry: DatasetEntry) -> list[Node]:
    """configure -> settings; acquire (or describe_file) -> prepare -> split."""
    if entry.kind == "file":
        intake: Node = node(
            nodes.describe_file,
            ["raw_table", "settings"],
            "source_info",
            name="describe_file",
            tags="data",
        )
    else:
        intake = node(
            nodes.acquire,
            ["settings", "params:openml_cache"],
            ["raw_table", "source_info"],
            name="acquire",
            tags="data",
        )
    return [
        configure_node(entry),
        intake,
        node(
            nodes.prepare,
            ["raw_table", "source_info", "settings"],
            ["table", "schema"],
            name="prepare",
            tags="data",
        ),
        node(
            bind(nodes.split, dataset=entry.name),
            ["table", "schema", "params:split"],
            "splits",
            name="split",
            tags="data",
        ),
    ]


def configure_node(entry: DatasetEntry, overrides: Mapping[str, Any] | None = None) -> Node:
    """configure -> settings (with ``overrides`` over the dataset's own ``lift`` keys)."""
    return node(
        bind(nodes.configure, dataset=entry.name, task=entry.task, overrides=overrides),
        ["params:dataset", "params:lift"],
        "settings",
        name="configure",
        tags="data",
    )


def baseline_nodes(entry: DatasetEntry) -> list[Node]:
    """split -> fit_baselines -> predict_baselines."""
    return [
        node(
            bind(nodes.fit_baselines, dataset=entry.name),
            ["table", "schema", "splits", "params:baselines"],
            "baseline_models",
            name="fit_baselines",
            tags="baselines",
        ),
        node(
            baselines.predict_baselines,
            ["baseline_models", "table", "schema", "splits"],
            "baseline_predictions",
            name="predict_baselines",
            tags="baselines",
        ),
    ]


def lift_nodes(fine_tune: bool = True) -> list[Node]:
    """split -> fit_encoding -> serialize -> fine_tune -> predict_lift (without fine_tune
    where the pipeline's fine-tunings are grouped: ``together_node``)."""
    return [
        node(
            nodes.fit_encoding,
            ["table", "schema", "splits", "settings"],
            "encoding",
            name="fit_encoding",
            tags="serialization",
        ),
        node(
            nodes.serialize,
            ["table", "schema", "splits", "encoding", "settings"],
            "prompts",
            name="serialize",
            tags="serialization",
        ),
        *(
            [
                node(
                    nodes.fine_tune,
                    ["prompts", "schema", BASE_MODEL, "encoding", "settings"],
                    "adapters",
                    name="fine_tune",
                    tags="training",
                )
            ]
            if fine_tune
            else []
        ),
        node(
            nodes.predict_lift,
            ["adapters", "prompts", "schema", BASE_MODEL, "encoding", "settings"],
            "lift_predictions",
            name="predict_lift",
            tags="prediction",
        ),
    ]


def namespaced(
    steps: list[Node],
    entry: DatasetEntry,
    namespace: str,
    declared_at: str | None = None,
    **inputs: str,
) -> Pipeline:
    """``steps`` of the dataset ``entry`` in ``namespace``, its parameters mapped to the task's
    (its own entry to ``declared_at``, ``<task>.datasets.<name>`` by default) and ``inputs``
    (artifact -> its full name) taken from outside."""
    pipeline = Pipeline(steps)
    shared = {p for p in SHARED_PARAMETERS if f"params:{p}" in pipeline.inputs()}
    task = entry.task
    return Pipeline(
        pipeline,
        namespace=namespace,
        inputs={BASE_MODEL: BASE_MODEL, **inputs} if BASE_MODEL in pipeline.inputs() else inputs,
        parameters={
            "dataset": declared_at or f"{task}.datasets.{entry.name}",
            **{p: f"{task}.{p}" for p in shared},
        },
    )


def dataset_pipeline(
    entry: DatasetEntry,
    extra: Callable[[DatasetEntry], list[Node]] | None = None,
    fine_tune: bool = True,
) -> Pipeline:
    """The nodes of one dataset, and the task's ``extra`` ones, in namespace ``<task>.<name>``
    (without its fine_tune node where ``together_node`` trains its adapters)."""
    name, task = entry.name, entry.task
    steps = [
        *data_nodes(entry),
        *baseline_nodes(entry),
        *lift_nodes(fine_tune),
        node(
            bind(nodes.evaluate, dataset=name, task=task),
            ["splits", "baseline_predictions", "lift_predictions"],
            "scores",
            name="evaluate",
            tags="reporting",
        ),
        *(extra(entry) if extra else []),
    ]
    return namespaced(steps, entry, f"{task}.{name}")


def create_pipeline(
    task: str,
    parameters: Mapping[str, Any],
    extra: Callable[[DatasetEntry], list[Node]] | None = None,
    known: tuple[str, ...] = KNOWN,
) -> Pipeline:
    """The pipeline of ``task`` over the datasets of ``parameters`` (the ``<task>`` section:
    ``datasets`` maps a dataset name to its parameters), with the task's ``extra`` nodes per
    dataset. Every dataset's settings are checked here, before any node runs; ``known`` are
    the section's keys."""
    reject_unknown(parameters, known, f"Parameter `{task}` has unknown keys")
    datasets = active(parameters.get("datasets") or {})
    if not datasets:
        raise DatasetInputError(
            f"Parameter `{task}.datasets` is empty: declare at least one dataset in "
            f"conf/base/parameters_{task}.yml."
        )
    check_split(parameters.get("split") or {}, f"{task}.split")
    task_lift = parameters.get("lift") or {}
    LiftSettings.from_params(task_lift, path=f"{task}.lift", task=task)  # named without a dataset
    together = GroupingSettings.from_params(parameters.get("fine_tuning"), task).group == "together"
    entries = [
        DatasetEntry.from_params(task, name, params, task_lift) for name, params in datasets.items()
    ]
    for name, params in datasets.items():  # where a dataset's own value hides the task's
        own = (params or {}).get("lift") or {}
        log_precedence(own, task_lift, f"{task}.lift", f"{task}.datasets.{name}.lift")
    # the paper's figures are bound here, not read from each dataset's settings artifact: an
    # artifact read outside its namespace would make kedro-viz see the layers in a cycle
    figures = published.of_task(task)
    figures = {entry.name: figures.get(entry.name, {}) for entry in entries}
    report = node(
        bind(nodes.report, task=task, published=figures),
        [f"{task}.{entry.name}.scores" for entry in entries],
        [f"{task}.metrics", f"{task}.metrics_plot"],
        name="report",
        tags="reporting",
        namespace=task,
    )
    return Pipeline(
        [
            base_model_node(),
            *(dataset_pipeline(entry, extra, not together) for entry in entries),
            *([together_node(task, entries)] if together else []),
            report,
        ]
    )


def together_node(task: str, entries: list[DatasetEntry]) -> Node:
    """fine_tune_together: every dataset's prompts -> every dataset's adapters, trained in
    the same steps on one base model (``fine_tuning.group: together``)."""
    return node(
        nodes.fine_tune_together,
        [
            BASE_MODEL,
            f"params:{task}.fine_tuning",
            *(
                f"{task}.{entry.name}.{artifact}"
                for entry in entries
                for artifact in ("prompts", "schema", "encoding", "settings")
            ),
        ],
        [f"{task}.{entry.name}.adapters" for entry in entries],
        name=TOGETHER,
        tags="training",
        namespace=task,
    )


def nothing_to_study(
    study: str, named: Mapping[str, list[str]], offline: Sequence[str] = ()
) -> Pipeline:
    """The pipeline of ``study`` where every table it names (``named``: task -> names) is
    switched off or ``offline`` (OpenML tables neither cached nor reachable): one node that
    refuses when the study is run, saying why. (A warning when the pipelines are built was
    printed by every command of the project, whichever ran.)"""
    listed = "; ".join(f"{task}: {', '.join(names)}" for task, names in named.items() if names)
    why = (
        f"{', '.join(offline)} cannot be acquired here (OpenML tables neither in the OpenML "
        "cache nor reachable: fill the cache where the network is, `make paper-data`)"
        if offline
        else "are switched off here (`null` under `<task>.datasets`)"
    )
    reason = (
        f"The {study} study has no table to run in this environment: of the tables it names "
        f"({listed}), {why}. Switch one on, or name others in `{study}.datasets`."
    )
    return Pipeline(
        # its output the study's results, which it cannot make (Kedro wants one)
        [node(partial(_refuse, reason), None, "results", name="nothing_to_study", namespace=study)]
    )


def _refuse(reason: str) -> None:
    raise DatasetInputError(reason)


def base_model_node() -> Node:
    """prepare_base_model -> base_model, once for the run (shared by every dataset and task)."""
    return node(
        nodes.prepare_base_model,
        "params:lift.model",
        BASE_MODEL,
        name="prepare_base_model",
        tags="model_load",
    )
