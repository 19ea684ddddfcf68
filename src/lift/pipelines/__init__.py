"""Kedro's pipelines: each folder a ``pipeline.py`` (``create_pipeline``: one namespace per
dataset) and a ``nodes.py`` (thin functions that call the library and return artifacts).
``tabular`` is the modular pipeline that ``classification`` and ``regression`` share;
``predict`` answers new rows; ``studies`` and ``numeric_encoding`` are the paper's studies.

Nodes call the library wings and ``lift.project``; nothing below imports a pipeline."""
