"""The predict pipeline: new rows of a trained dataset answered by its adapter, one namespace
per catalog entry ``<task>.<name>.new_rows``."""

from lift.pipelines.predict.pipeline import create_pipeline

__all__ = ["create_pipeline"]
