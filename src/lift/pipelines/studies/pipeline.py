"""The study pipelines (``lift.studies.designs``), one per study, built the same way. Per table (the
study's ``datasets``), in namespace ``<study>.<task>.<name>``:

    configure -> acquire (or describe_file) -> prepare -> split [-> fit_baselines
                                                               -> predict_baselines]

(the baselines of the table as it is, for the variants that change no rows or labels) and per
variant, in ``<study>.<task>.<name>.<variant>``, the main pipelines' nodes on the variant's
rows and labels, written with its LIFT settings:

    configure -> [vary (fewer training rows, other labels) -> fit_baselines -> predict_baselines]
              -> fit_encoding -> serialize -> fine_tune -> predict_lift -> score

then over everything: report -> results.csv and <study>.png under data/08_reporting/<study>/.
``decision_boundaries`` adds a grid per table and every model's answers on it;
``two_stage`` a first stage per table (namespace ``<study>.<task>.<name>.pretext``: pretext
tasks -> first_stage), from which its two-stage variants fine-tune, and ``pretraining`` one
on gibberish text (gibberish -> first_stage);
``uncertainty`` the calibration bins of LIFT's answers to a classification table;
``image_robustness`` a network per table (fit_attacker) whose gradients perturb the test
images, and per variant its answers (predict_attacker) and example images; its perturbed
variants change the test rows only, so the table's baselines and the clean variant's
adapters answer them (nothing is trained again)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Node, Pipeline, node

from lift.config.lift import with_overrides
from lift.data.acquisition import OPENML_CACHE, OpenMLSource, openml_available
from lift.data.entry import DatasetEntry
from lift.evaluation import published
from lift.pipelines.studies import nodes
from lift.pipelines.tabular import nodes as tabular_nodes
from lift.pipelines.tabular.pipeline import (
    BASE_MODEL,
    base_model_node,
    baseline_nodes,
    bind,
    configure_node,
    data_nodes,
    lift_nodes,
    namespaced,
    nothing_to_study,
)
from lift.studies.designs import (
    STUDIES,
    DecisionBoundaries,
    Gibberish,
    ImageRobustness,
    Pretext,
    Pretraining,
    StudySettings,
    TwoStage,
    Variant,
    study_settings,
)

logger = logging.getLogger(__name__)


def variant_steps(
    entry: DatasetEntry,
    variant: Variant,
    lift: Mapping[str, Any],
    per_class: bool,
    attacked: bool = False,
) -> list[Node]:
    """The nodes of one variant of a table: vary it and fit the baselines on it (unless it is
    the table as it is, whose baselines are the table's), LIFT (with ``lift``: the study's
    settings and the variant's) on it, fine-tuned, in context or as trained on the table as
    it is (``variant.method``), and their scores; with ``attacked``, the attacker network's
    answers too (image_robustness)."""
    vary = node(
        bind(nodes.vary, dataset=entry.name, variant=variant),
        ["original_table", "schema", "original_splits", *(["attacker"] if attacked else [])],
        ["table", "splits"],
        name="vary",
        tags="data",
    )
    fitted = baseline_nodes(entry)
    if variant.method == "test_only":  # the table's baselines answer the changed test rows
        fitted = [step for step in fitted if step.name != "fit_baselines"]
    # fine-tuned, or shown the training rows in the prompt: the main pipelines' steps by name
    learn = {step.name: step for step in lift_nodes()}
    if variant.method == "two_stage":
        learn["fine_tune"] = node(
            tabular_nodes.fine_tune,
            ["prompts", "schema", BASE_MODEL, "encoding", "settings", "pretext_adapter"],
            "adapters",
            name="fine_tune",
            tags="training",
        )
    if variant.method == "test_only":  # the table's adapters answer the changed test rows
        del learn["fine_tune"]
    if variant.method == "in_context":
        del learn["fine_tune"], learn["predict_lift"]
        learn["predict_in_context"] = node(
            nodes.predict_in_context,
            ["prompts", "schema", BASE_MODEL, "encoding", "settings"],
            "lift_predictions",
            name="predict_in_context",
            tags="prediction",
        )
    answers = ["baseline_predictions", "lift_predictions"]
    if attacked:
        learn["predict_attacker"] = node(
            nodes.predict_attacker,
            ["attacker", "table", "schema", "splits"],
            "attacker_predictions",
            name="predict_attacker",
            tags="baselines",
        )
        learn["image_examples"] = node(
            bind(nodes.image_examples, variant=variant),
            ["attacker", "table", "schema", "splits", "settings"],
            "image_examples",
            name="image_examples",
            tags="reporting",
        )
        answers.append("attacker_predictions")
    return [
        configure_node(entry, lift),
        *([vary, *fitted] if variant.change else []),
        *learn.values(),
        node(
            bind(
                nodes.score,
                dataset=entry.name,
                task=entry.task,
                variant=variant,
                per_class=per_class,
            ),
            ["splits", "schema", *answers],
            "scores",
            name="score",
            tags="reporting",
        ),
    ]


def boundary_steps(settings: DecisionBoundaries) -> tuple[list[Node], list[Node]]:
    """The grid of a table (its namespace) and every model's answers on it (the variant's)."""
    grid = node(
        bind(nodes.grid, points=settings.points, margin=settings.margin),
        ["table", "schema", "settings"],
        "grid",
        name="grid",
        tags="prediction",
    )
    answers = node(
        nodes.predict_grid,
        [
            "grid",
            "table",
            "schema",
            "splits",
            "baseline_models",
            "adapters",
            "prompts",
            BASE_MODEL,
            "encoding",
            "settings",
        ],
        "boundaries",
        name="predict_grid",
        tags="prediction",
    )
    return [grid], [answers]


def attacker_node(settings: ImageRobustness) -> Node:
    """The network the transferred attacks on a table's test images come from."""
    return node(
        bind(nodes.fit_attacker, epochs=settings.attack.epochs, seed=settings.attack.seed),
        ["table", "schema", "splits", "settings"],
        "attacker",
        name="fit_attacker",
        tags="baselines",
    )


def reliability_node(entry: DatasetEntry) -> Node:
    """lift_predictions -> reliability: the calibration bins of LIFT's answers."""
    return node(
        bind(nodes.reliability, dataset=entry.name),
        "lift_predictions",
        "reliability",
        name="reliability",
        tags="reporting",
    )


def first_stage_steps(entry: DatasetEntry, settings: StudySettings) -> list[Node]:
    """The first stage a study fine-tunes some variants after, in the table's ``pretext``
    namespace: two_stage's pretext tasks of the table's shape and the adapter fine-tuned on
    them in turn; pretraining's gibberish text and the adapter fine-tuned on it; none for
    the other studies."""
    if isinstance(settings, TwoStage):
        stage: Pretext | Gibberish = settings.pretext
        text = node(
            bind(nodes.pretext_table, rows=stage.rows, tasks=stage.tasks, seed=stage.seed),
            ["table", "schema", "splits", "settings"],
            "pretext_table",
            name="pretext_tasks",
            tags="data",
        )
        tune = node(
            bind(nodes.first_stage, rounds=stage.rounds),
            ["pretext_table", "schema", BASE_MODEL, "settings"],
            "pretext_adapter",
            name="first_stage",
            tags="training",
        )
    elif isinstance(settings, Pretraining) and settings.gibberish:
        stage = settings.gibberish
        text = node(
            bind(nodes.gibberish, rows=stage.rows, words=stage.words, seed=stage.seed),
            None,
            "pretext_table",
            name="gibberish",
            tags="data",
        )
        tune = node(
            nodes.gibberish_stage,
            ["pretext_table", BASE_MODEL, "settings"],
            "pretext_adapter",
            name="first_stage",
            tags="training",
        )
    else:
        return []
    return [configure_node(entry, with_overrides(settings.lift, stage.lift())), text, tune]


# the variant steps whose output the study's figure draws besides the scores
FIGURED = ("predict_grid", "reliability", "image_examples")


def read(steps: list[Node], offered: Mapping[str, str]) -> dict[str, str]:
    """Of the ``offered`` artifacts (name -> full name outside the namespace), those
    ``steps`` read."""
    reads = Pipeline(steps).inputs()
    return {artifact: full for artifact, full in offered.items() if artifact in reads}


def reachable(study: str, entry: DatasetEntry, openml_cache: str) -> bool:
    """Whether the table can be acquired; an OpenML table that is neither cached nor online
    is left out of the study with a warning (the rest runs)."""
    source = entry.source
    if not isinstance(source, OpenMLSource) or openml_available(
        source.id, openml_cache, source.server
    ):
        return True
    logger.warning(
        "The %s study leaves out dataset '%s': OpenML dataset %s is not in the OpenML cache "
        "under '%s' and the server cannot be reached. Run once with network access (or copy a "
        "filled cache there) to include it.",
        study,
        entry.name,
        source.id,
        openml_cache,
    )
    return False


def create_pipeline(
    study: str, params: Mapping[str, Any] | None, tasks: Mapping[str, Mapping[str, Any]]
) -> Pipeline:
    """The pipeline of ``study`` over the tables its parameters (``params``, the ``<study>``
    section) name; ``tasks`` holds each task's section (its datasets, split, baselines and
    LIFT settings, which the study runs with). Every table's settings are checked here,
    before any node runs."""
    settings: StudySettings = study_settings(study, params)
    declared = {task: (section or {}).get("datasets") or {} for task, section in tasks.items()}
    boundaries = isinstance(settings, DecisionBoundaries)
    attacked = isinstance(settings, ImageRobustness)
    per_class = study == "class_imbalance"
    parts, scores, answers, offline = [base_model_node()], [], [], []
    for task, name, entry_params, declared_at in settings.studied(study, declared):
        section = tasks.get(task) or {}
        entry = DatasetEntry.from_params(
            task, name, entry_params, section.get("lift"), settings.lift
        )
        if not reachable(study, entry, section.get("openml_cache", OPENML_CACHE)):
            offline.append(name)
            continue
        table = f"{study}.{task}.{name}"
        on_table, on_variant = boundary_steps(settings) if boundaries else ([], [])
        if attacked:
            on_table.append(attacker_node(settings))
        variants = settings.variants_for(entry)
        as_is = next((v.name for v in variants if not v.change), None)
        # the baselines read no LIFT settings: fitted once on the table as it is
        on_table = [*(baseline_nodes(entry) if as_is else []), *on_table]
        parts.append(namespaced([*data_nodes(entry), *on_table], entry, table, declared_at))
        first, stage = f"{table}.pretext", first_stage_steps(entry, settings)
        if stage:
            offered = {a: f"{table}.{a}" for a in ("table", "schema", "splits")}
            parts.append(namespaced(stage, entry, first, declared_at, **read(stage, offered)))
        for variant in variants:
            lift = with_overrides(settings.lift, variant.lift)
            if variant.lift:  # checked now, before any node runs
                DatasetEntry.from_params(task, name, entry_params, section.get("lift"), lift)
            steps = [*variant_steps(entry, variant, lift, per_class, attacked), *on_variant]
            if study == "uncertainty" and task == "classification":
                steps.append(reliability_node(entry))
            # the table's artifacts the variant reads; one it changes is read as the original
            shared = {a: f"{table}.{a}" for a in ["schema", *(n.outputs[0] for n in on_table)]}
            for artifact in ("table", "splits"):
                shared[f"original_{artifact}" if variant.change else artifact] = (
                    f"{table}.{artifact}"
                )
            shared["pretext_adapter"] = f"{first}.pretext_adapter"
            if as_is:  # a test_only variant is answered by the adapters of the table as it is
                shared["adapters"] = f"{table}.{as_is}.adapters"
            namespace = f"{table}.{variant.name}"
            parts.append(namespaced(steps, entry, namespace, declared_at, **read(steps, shared)))
            scores.append(f"{namespace}.scores")
            answers += [f"{namespace}.{n.outputs[0]}" for n in steps if n.name in FIGURED]
    if not scores:  # every table switched off: nothing to study here
        return nothing_to_study(study, settings.datasets, offline)
    report = node(
        bind(
            nodes.report,
            study=study,
            published=published.of_study(study),
            compared=settings.metrics(),
            tables=len(scores),
        ),
        [*scores, *answers],
        [f"{study}.results", f"{study}.figure"],
        name="report",
        tags="reporting",
        namespace=study,
    )
    return Pipeline([*parts, report])


def create_pipelines(
    parameters: Mapping[str, Any], tasks: Mapping[str, Mapping[str, Any]]
) -> dict[str, Pipeline]:
    """Every study's pipeline, by name, from the run's ``parameters``."""
    return {study: create_pipeline(study, parameters.get(study), tasks) for study in STUDIES}
