"""Project pipelines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kedro.framework.project import settings
from kedro.pipeline import Pipeline

from lift.config.errors import reject_unknown
from lift.config.lift import ModelSettings
from lift.data.entry import with_catalog_datasets
from lift.pipelines import (
    classification,
    numeric_encoding,
    paper_report,
    predict,
    regression,
    studies,
)
from lift.project.context import ProjectContext


def _configuration() -> tuple[dict[str, Any], dict[str, Any]]:
    """The session's parameters and catalog configuration; outside a session (e.g. ``kedro
    registry``) those of KEDRO_ENV."""
    if ProjectContext.parameters is not None and ProjectContext.catalog_config is not None:
        return ProjectContext.parameters, ProjectContext.catalog_config
    conf_source = Path(os.getcwd()) / settings.CONF_SOURCE
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(conf_source), env=os.getenv("KEDRO_ENV"), **settings.CONFIG_LOADER_ARGS
    )
    catalog = dict(loader["catalog"])
    return with_catalog_datasets(loader["parameters"], catalog), catalog


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines: ``classification``, ``regression`` and both together
    as the default, ``predict`` (new rows answered by trained adapters), ``paper_report``
    (the paper's numbers beside ours, from whatever has run), and the studies:
    ``numeric_encoding`` and those of ``lift.studies.designs``."""
    parameters, catalog = _configuration()
    # the model shared by both tasks (parameters_lift.yml), checked before any work
    shared = parameters.get("lift") or {}
    reject_unknown(shared, ["model"], "Parameter `lift` has unknown keys")
    ModelSettings.from_params(shared.get("model"))
    pipelines = {
        "classification": classification.create_pipeline(**parameters.get("classification", {})),
        "regression": regression.create_pipeline(**parameters.get("regression", {})),
    }
    tasks = {task: parameters.get(task, {}) for task in pipelines}
    study = numeric_encoding.create_pipeline(parameters.get("numeric_encoding"), tasks)
    return {
        **pipelines,
        "__default__": sum(pipelines.values(), Pipeline([])),
        "numeric_encoding": study,
        "predict": predict.create_pipeline(catalog),
        "paper_report": paper_report.create_pipeline(),
        **studies.create_pipelines(parameters, tasks),
    }
