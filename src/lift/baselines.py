"""The paper's classical baselines (lift-reference.md, "Baselines of the paper and their grids"),
each an sklearn ``Pipeline`` of the feature encoder and the model, tuned by a cross-validated grid
search on the training split and answering ``fit`` / ``predict`` / ``predict_proba``.

The grids live in ``conf/base/parameters_classification.yml``; this module holds only what the
paper fixed about each model (architecture, solver limits)."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from tqdm.auto import tqdm
from xgboost import XGBClassifier

from lift.errors import reject_unknown
from lift.preprocessing import feature_encoder
from lift.splits import rows_of

logger = logging.getLogger(__name__)

CLASSIFIERS: dict[str, Callable[[int], ClassifierMixin]] = {
    "majority": lambda seed: DummyClassifier(strategy="most_frequent"),
    "logistic_regression": lambda seed: LogisticRegression(max_iter=1000),
    "knn": lambda seed: KNeighborsClassifier(),
    "decision_tree": lambda seed: DecisionTreeClassifier(random_state=seed),
    "svm": lambda seed: SVC(random_state=seed),
    "random_forest": lambda seed: RandomForestClassifier(random_state=seed),
    "xgboost": lambda seed: XGBClassifier(random_state=seed, n_jobs=1, tree_method="hist"),
    "mlp": lambda seed: MLPClassifier(hidden_layer_sizes=(100, 100), random_state=seed),
}


def check_grids(grids: Mapping[str, Mapping[str, Sequence[Any]] | None]) -> None:
    """Raise ``DatasetInputError`` if ``baselines.models`` names an unknown model."""
    reject_unknown(grids, sorted(CLASSIFIERS), "Parameter `baselines.models` names unknown models")


def fit_classifier(
    name: str,
    grid: Mapping[str, Sequence[Any]] | None,
    schema: Mapping[str, Any],
    features: pd.DataFrame,
    labels: np.ndarray,
    cv_folds: int = 5,
    seed: int = 0,
    n_jobs: int = 1,
) -> Pipeline:
    """Fit baseline ``name`` on ``features`` / ``labels`` with a stratified ``cv_folds``-fold
    grid search over ``grid`` (parameter -> candidate values) and return the refitted best
    pipeline (encoder + model). Its ``best_params_`` and ``cv_score_`` are set as attributes."""
    pipeline = Pipeline([("encode", feature_encoder(schema)), ("model", CLASSIFIERS[name](seed))])
    grid = {f"model__{key}": list(values) for key, values in (grid or {}).items()}
    smallest_class = int(
        np.bincount(labels).min(where=np.bincount(labels) > 0, initial=len(labels))
    )
    folds = min(int(cv_folds), smallest_class)
    with warnings.catch_warnings():
        # the paper's fixed iteration budgets do not always converge; the score says how well
        warnings.simplefilter("ignore", ConvergenceWarning)
        if not grid or folds < 2:
            pipeline.fit(features, labels)
            pipeline.best_params_, pipeline.cv_score_ = {}, float("nan")
            return pipeline
        search = GridSearchCV(
            pipeline,
            grid,
            cv=StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed),
            scoring="accuracy",
            n_jobs=n_jobs,
            error_score="raise",
        )
        search.fit(features, labels)
    best = search.best_estimator_
    best.best_params_ = {k.removeprefix("model__"): v for k, v in search.best_params_.items()}
    best.cv_score_ = float(search.best_score_)
    return best


def fit_baselines(
    dataset: str,
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    splits: pd.DataFrame,
    grids: Mapping[str, Mapping[str, Sequence[Any]] | None],
    search_splits: Sequence[str] = ("train",),
    cv_folds: int = 5,
    seed: int = 0,
    n_jobs: int = 1,
) -> dict[int, dict[str, Pipeline]]:
    """Fit every baseline in ``grids`` for every repeat of ``splits``.

    Each is tuned and fitted on the rows of ``search_splits`` (the training split by default;
    the original tuned on train + validation). Returns ``{repeat: {model name: pipeline}}``.
    """
    check_grids(grids)
    features, labels = table[schema["features"]], table[schema["target"]].to_numpy()
    repeats = sorted(splits["repeat"].unique())
    models: dict[int, dict[str, Pipeline]] = {}
    progress = tqdm(total=len(repeats) * len(grids), desc=f"{dataset}: baselines", leave=False)
    for repeat in repeats:
        chosen = splits[(splits["repeat"] == repeat) & splits["split"].isin(search_splits)]
        rows = chosen["row"].to_numpy()
        models[repeat] = {}
        for name, grid in grids.items():
            progress.set_postfix_str(f"repeat {repeat}: {name}")
            started = time.perf_counter()
            model = fit_classifier(
                name, grid, schema, features.iloc[rows], labels[rows], cv_folds, seed, n_jobs
            )
            logger.debug(
                "%s repeat %d %s: %s (cv %.3f) in %.1fs",
                dataset,
                repeat,
                name,
                model.best_params_,
                model.cv_score_,
                time.perf_counter() - started,
            )
            models[repeat][name] = model
            progress.update()
    progress.close()
    return models


def predict_baselines(
    models: Mapping[int, Mapping[str, Pipeline]],
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    splits: pd.DataFrame,
) -> pd.DataFrame:
    """Test-split predictions of every fitted baseline: one row per (model, repeat, test row)
    with columns ``model, repeat, row, y_true, y_pred``."""
    features, labels = table[schema["features"]], table[schema["target"]].to_numpy()
    parts = []
    for repeat, by_name in models.items():
        rows = rows_of(splits, repeat, "test")
        for name, model in by_name.items():
            parts.append(
                pd.DataFrame(
                    {
                        "model": name,
                        "repeat": int(repeat),
                        "row": rows,
                        "y_true": labels[rows],
                        "y_pred": model.predict(features.iloc[rows]).astype(int),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)
