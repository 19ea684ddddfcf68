"""The regression pipeline: acquire (or generate a synthetic function) -> prepare -> split ->
{baselines, LIFT} -> evaluate -> report, one namespace per dataset under ``regression``, and
for one-feature functions the extrapolation plot."""

from lift.pipelines.regression.pipeline import create_pipeline

__all__ = ["create_pipeline"]
