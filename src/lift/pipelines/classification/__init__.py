"""The classification pipeline: acquire -> prepare -> split -> {baselines, LIFT} -> evaluate ->
report, one namespace per dataset under ``classification``."""

from lift.pipelines.classification.pipeline import create_pipeline

__all__ = ["create_pipeline"]
