"""Project settings. https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

import logging
import warnings

from kedro.config import OmegaConfigLoader

from lift.project.brief_errors import BriefErrors
from lift.project.context import ProjectContext
from lift.project.hooks import RunInputs, RunLineage, RunSummary, RunTracking, RunVersions

# Kedro's own use of an omegaconf API that omegaconf deprecated; nothing a user can act on
warnings.filterwarnings("ignore", message="register_new_resolver", category=UserWarning)
# PEFT calls a transformers API that transformers deprecated; likewise not actionable here
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
# kedro-mlflow's model class (not used here) defines `predict` without the hints MLflow asks for;
# MLflow warns of it inside a warnings filter of its own, which no filter here overrides, so
# Kedro's log of warnings drops it


class _NotActionable(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Add type hints to the `predict`" not in record.getMessage()


logging.getLogger("py.warnings").addFilter(_NotActionable())

SUMMARY = RunSummary()
# lineage: what every artifact was made from (lift.project.lineage), kept beside the data layers;
# tracking: what a run made, logged into the MLflow run kedro-mlflow starts
# BriefErrors: the project's own refusals print as their message alone
HOOKS = (BriefErrors(), RunInputs(), SUMMARY, RunVersions(), RunLineage(), RunTracking(SUMMARY))

# keeps the session's configuration for the pipeline registry (lift.project.context)
CONTEXT_CLASS = ProjectContext

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # an environment (conf/paper) changes or adds only the keys it names
    "merge_strategy": {"parameters": "soft", "catalog": "soft", "mlflow": "soft"},
    # kedro-mlflow's configuration (its hook adds the same pattern later; the project's context
    # reads it first, lift.project.context)
    "config_patterns": {"mlflow": ["mlflow*", "mlflow*/**", "**/mlflow*"]},
}
