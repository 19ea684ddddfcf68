"""The ``numeric_encoding`` study: LIFT with each number encoding on the same tables and
splits, beside the baselines; results.csv and a figure under data/08_reporting/numeric_encoding/."""

from lift.pipelines.numeric_encoding.pipeline import create_pipeline

__all__ = ["create_pipeline"]
