"""The ``paper_report`` pipeline."""

from lift.pipelines.paper_report.pipeline import create_pipeline

__all__ = ["create_pipeline"]
