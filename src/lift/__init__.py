"""LIFT: Language-Interfaced Fine-Tuning for tabular classification and regression.

The package in wings, each importing only the ones listed before it (``tests/test_layout.py``
checks it):

- ``config``: the typed settings of LIFT and the project's errors;
- ``data``: where tables come from (acquisition, synthetic functions, preparation, splits,
  the studies' variants, images as tables) and a dataset's whole configuration;
- ``evaluation``: the classical baselines, metrics and reports;
- ``method``: what LIFT is: numbers written as text, rows as prompts, the language model,
  LoRA fine-tuning, prediction and parsing;
- ``studies``: the paper's studies as settings that expand into variants, and their figures;
- ``project``: Kedro's glue: the context, hooks, lineage, the Dask runner, catalog datasets.

``config``, ``data``, ``evaluation``, ``method`` and ``studies`` never import Kedro: they are a
library a notebook can use. ``pipelines/`` wires them into Kedro's pipelines, and ``settings``
and ``pipeline_registry`` are where Kedro looks for them.

The public API, for notebooks (imported on first use, so that ``import lift`` stays light)::

    from lift import LIFTClassifier
    model = LIFTClassifier(epochs=4).fit(X_train, y_train)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it
_PUBLIC = {
    "LIFTClassifier": "lift.estimator",
    "LIFTRegressor": "lift.estimator",
    "LiftSettings": "lift.config.lift",
    "serialize": "lift.method.serialization",
    "fine_tune": "lift.method.learner",
    "predict": "lift.method.learner",
}
__all__ = ["__version__", *_PUBLIC]

if TYPE_CHECKING:  # what static tools (type checkers, the API reference) read
    from lift.config.lift import LiftSettings as LiftSettings
    from lift.estimator import LIFTClassifier as LIFTClassifier
    from lift.estimator import LIFTRegressor as LIFTRegressor
    from lift.method.learner import fine_tune as fine_tune
    from lift.method.learner import predict as predict
    from lift.method.serialization import serialize as serialize


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'lift' has no attribute {name!r}")
    value = getattr(import_module(_PUBLIC[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
