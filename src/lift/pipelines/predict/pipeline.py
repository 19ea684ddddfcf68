"""The predict pipeline. Per catalog entry ``<task>.<name>.new_rows``, in namespace
``<task>.<name>``:

    new_rows + the dataset's settings, schema, encoding, adapters, prompts (the latest versions
    a run of its task saved, or those ``--load-versions`` names) and the base model
        -> predict_new_rows -> new_predictions

It trains nothing: the artifacts it reads are made by the dataset's task pipeline, and they
must have been made together (``lift.project.lineage``), though not with this run's parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Pipeline, node

from lift.data.entry import new_rows_entries
from lift.pipelines.predict import nodes
from lift.pipelines.tabular.pipeline import BASE_MODEL
from lift.project.lineage import FROM_EARLIER_RUNS

REPEAT = "params:predict.repeat"


def create_pipeline(catalog: Mapping[str, Any]) -> Pipeline:
    """A namespace per ``new_rows`` entry of ``catalog`` (its configuration); if there are
    none, one node that says how to declare them."""
    entries = new_rows_entries(catalog)
    if not entries:
        return Pipeline([node(nodes.no_new_rows, "params:predict", None, name="no_new_rows")])
    return Pipeline(
        [
            Pipeline(
                [
                    node(
                        nodes.predict_new_rows,
                        [
                            "new_rows",
                            "settings",
                            "schema",
                            "encoding",
                            "adapters",
                            "prompts",
                            BASE_MODEL,
                            REPEAT,
                        ],
                        "new_predictions",
                        name="predict_new_rows",
                        tags=["prediction", FROM_EARLIER_RUNS],
                    )
                ],
                namespace=f"{task}.{name}",
                inputs={BASE_MODEL: BASE_MODEL},
                parameters={REPEAT: REPEAT},
            )
            for task, name in entries
        ]
    )
