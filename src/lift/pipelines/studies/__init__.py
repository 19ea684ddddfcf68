"""The paper's studies of how LIFT learns (``lift.studies.designs``), one pipeline each: sample
complexity, label noise, class imbalance, decision boundaries and inductive bias."""

from lift.pipelines.studies.pipeline import create_pipeline, create_pipelines

__all__ = ["create_pipeline", "create_pipelines"]
