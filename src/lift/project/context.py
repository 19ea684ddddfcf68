"""The project's Kedro context: it hands the configuration of the session (its ``--env`` and
``--params`` applied) to the pipeline registry, which builds one namespace per declared
dataset. A context is created by every session, with or without hooks (``kedro viz run``
leaves hooks out unless ``--include-hooks``), before pipelines are asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from kedro.config import MissingConfigException
from kedro.framework.context import KedroContext

from lift.data.entry import with_catalog_datasets


class ProjectContext(KedroContext):
    """``KedroContext`` that keeps the raw configuration of the latest context created:
    ``parameters`` (with the datasets a catalog entry alone declares, set back on the config
    loader so that the nodes read them too) and the ``catalog`` configuration (its new rows
    to predict). Raw, because ``context.params`` would validate against the pipelines, which
    are not built yet."""

    parameters: ClassVar[dict[str, Any] | None] = None
    catalog_config: ClassVar[dict[str, Any] | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        loader = self.config_loader
        catalog = dict(loader["catalog"])
        parameters = with_catalog_datasets(loader["parameters"], catalog)
        loader["parameters"] = parameters
        ProjectContext.parameters, ProjectContext.catalog_config = parameters, catalog
        self._anchor_tracking_database()

    def _anchor_tracking_database(self) -> None:
        """A relative SQLite tracking URI in ``mlflow.yml`` made relative to the project, not
        to the working directory (kedro-mlflow anchors only plain paths), so that a notebook
        in ``notebooks/`` tracks into the same database; its folder is created."""
        loader = self.config_loader
        try:
            config = dict(loader["mlflow"])
        except (KeyError, MissingConfigException):
            return
        server = dict(config.get("server") or {})
        uri = str(server.get("mlflow_tracking_uri") or "")
        prefix = "sqlite:///"
        if not uri.startswith(prefix) or Path(uri[len(prefix) :]).is_absolute():
            return
        database = Path(self.project_path) / uri[len(prefix) :]
        database.parent.mkdir(parents=True, exist_ok=True)
        server["mlflow_tracking_uri"] = f"{prefix}{database}"
        loader["mlflow"] = {**config, "server": server}
