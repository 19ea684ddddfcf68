"""Kedro's glue: ``context`` (the session's configuration for the pipeline registry),
``hooks`` (the run's summary, lineage checks and MLflow tracking), ``lineage`` (what every
artifact was made from), ``runner`` (the pipelines on a Dask cluster) and ``datasets`` (the
catalog's own dataset types: adapters, typed JSON).

The one wing that imports Kedro besides ``pipelines``; it may import every library wing, never
``pipelines``."""
