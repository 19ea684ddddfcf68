"""The ``paper_report`` pipeline: every number the LIFT paper published beside ours, from the
newest run of each table, of whatever has run (``make paper-report``)::

    paper_report.results, params:lift.model -> report
        -> report.md, report.html, comparison.csv, figure.png (data/08_reporting/paper/)"""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.pipeline import Pipeline, node

from lift.config.lift import ModelSettings
from lift.evaluation import paper_report, published
from lift.method.language_model import EMBEDDED, EMBEDDED_FOLDER


def report(results: dict[str, pd.DataFrame], model: dict[str, Any]) -> tuple[Any, ...]:
    """The comparison, its Markdown and HTML reports and its figure."""
    name = ModelSettings.from_params(model).name
    ours = f"{name} ({EMBEDDED_FOLDER})" if name == EMBEDDED else name
    numbers = published.numbers()
    comparison = paper_report.compare(results, numbers)
    own = paper_report.own_tables(results, numbers)
    plot = paper_report.figure(comparison)
    page = paper_report.page(comparison, ours, plot, own)
    return paper_report.markdown(comparison, ours, own), page, comparison, plot


def create_pipeline() -> Pipeline:
    return Pipeline(
        [
            node(
                report,
                ["paper_report.results", "params:lift.model"],
                [
                    "paper_report.markdown",
                    "paper_report.page",
                    "paper_report.comparison",
                    "paper_report.figure",
                ],
                name="report",
                namespace="paper_report",
                tags="reporting",
            )
        ]
    )
