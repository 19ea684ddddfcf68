"""The paper's studies of how LIFT learns: ``designs`` (each study's settings, expanded into
variants of a table), ``figures`` (their plots) and ``numeric_encoding`` (every way of
writing numbers, compared).

Imports the library wings below it (``config``, ``data``, ``evaluation``, ``method``); never
Kedro, ``project`` or ``pipelines``."""
