"""The paper's classical baselines (the LIFT paper, arXiv:2206.06565),
each an sklearn ``Pipeline`` of the feature encoder and the model answering ``fit`` /
``predict`` (and ``predict_proba`` for classifiers). Classifiers are tuned by a cross-validated
grid search on the training split; regressors, as in the paper, are fitted on the training
split once per grid point and the point with the lowest validation MSE is kept.

The grids live in ``conf/base/parameters_<task>.yml``; this module holds only what the paper
fixed about each model (architecture, tree counts, solver limits)."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    GradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import PolynomialFeatures
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from tqdm.auto import tqdm
from xgboost import XGBClassifier

from lift.config.errors import reject_unknown
from lift.data.preprocessing import feature_encoder, task_of
from lift.data.splits import rows_of
from lift.evaluation.metrics import probability_columns

logger = logging.getLogger(__name__)


class PlattSVC(ClassifierMixin, BaseEstimator):
    """The paper's SVM, predicting as an SVM does, with class probabilities by Platt scaling
    (a sigmoid fitted on cross-validated decision values): sklearn's ``SVC`` with what its
    deprecated ``probability=True`` did."""

    def __init__(self, kernel: str = "rbf", C: float = 1.0, random_state: int | None = None):  # noqa: N803
        self.kernel, self.C, self.random_state = kernel, C, random_state

    def fit(self, features: np.ndarray, labels: np.ndarray) -> PlattSVC:
        svm = SVC(kernel=self.kernel, C=self.C, random_state=self.random_state)
        # Platt scaling is cross-validated within each class's rows: as many folds as the
        # rarest class allows (a study's smallest training sets have one or two rows a class)
        folds = min(5, int(np.unique(labels, return_counts=True)[1].min()))
        if folds < 2:
            self.calibrated_ = None
            self.svm_ = svm.fit(features, labels)
            self.classes_ = self.svm_.classes_
            return self
        self.calibrated_ = CalibratedClassifierCV(svm, method="sigmoid", ensemble=False, cv=folds)
        self.calibrated_.fit(features, labels)
        # with ensemble=False, the one underlying SVM is fitted on all the rows
        self.svm_ = self.calibrated_.calibrated_classifiers_[0].estimator
        self.classes_ = self.calibrated_.classes_
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.svm_.predict(features)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        if self.calibrated_ is None:  # too few rows to calibrate: the answer, certain
            return (self.predict(features)[:, None] == self.classes_[None, :]).astype(float)
        return self.calibrated_.predict_proba(features)


class XGBoost(XGBClassifier):
    """XGBoost's classifier on any integer labels: it wants 0..K-1, and a teacher's labels
    (the inductive bias study) may skip a class, so the labels seen are coded and decoded."""

    def fit(self, features: Any, labels: Any, **options: Any) -> XGBoost:
        seen, codes = np.unique(np.asarray(labels), return_inverse=True)
        self.labels_ = None  # while XGBoost fits, its classes are the codes
        super().fit(features, codes, **options)
        self.labels_ = seen
        return self

    @property
    def classes_(self) -> np.ndarray:
        labels = getattr(self, "labels_", None)
        return XGBClassifier.classes_.fget(self) if labels is None else labels

    def predict(self, features: Any, **options: Any) -> np.ndarray:
        return self.classes_[np.asarray(super().predict(features, **options), dtype=int)]


CLASSIFIERS: dict[str, Callable[[int], ClassifierMixin]] = {
    "majority": lambda seed: DummyClassifier(strategy="most_frequent"),
    "logistic_regression": lambda seed: LogisticRegression(max_iter=1000),
    "knn": lambda seed: KNeighborsClassifier(),
    "decision_tree": lambda seed: DecisionTreeClassifier(random_state=seed),
    "svm": lambda seed: PlattSVC(random_state=seed),
    "random_forest": lambda seed: RandomForestClassifier(random_state=seed),
    "xgboost": lambda seed: XGBoost(random_state=seed, n_jobs=1, tree_method="hist"),
    "mlp": lambda seed: MLPClassifier(hidden_layer_sizes=(100, 100), random_state=seed),
}


class PolynomialRegression(RegressorMixin, BaseEstimator):
    """Least squares on the polynomial features of the inputs up to ``degree``."""

    def __init__(self, degree: int = 3) -> None:
        self.degree = degree

    def fit(self, features: np.ndarray, targets: np.ndarray) -> PolynomialRegression:
        self.pipeline_ = make_pipeline(PolynomialFeatures(self.degree), LinearRegression())
        self.pipeline_.fit(features, targets)
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self.pipeline_.predict(features)


def _gaussian_process(seed: int) -> GaussianProcessRegressor:
    # RBF kernel (the paper's), with a learned scale and noise level: the targets are noisy
    kernel = ConstantKernel() * RBF() + WhiteKernel()
    return GaussianProcessRegressor(kernel=kernel, normalize_y=True, random_state=seed)


REGRESSORS: dict[str, Callable[[int], RegressorMixin]] = {
    "mean": lambda seed: DummyRegressor(strategy="mean"),
    "polynomial": lambda seed: PolynomialRegression(degree=3),
    "kernel_ridge": lambda seed: KernelRidge(kernel="rbf"),
    "knn": lambda seed: KNeighborsRegressor(),
    "mlp": lambda seed: MLPRegressor(
        hidden_layer_sizes=(50, 50, 50), max_iter=1000, random_state=seed
    ),
    "gradient_boosting": lambda seed: GradientBoostingRegressor(
        n_estimators=500, max_depth=4, random_state=seed
    ),
    "random_forest": lambda seed: RandomForestRegressor(
        n_estimators=500, random_state=seed, n_jobs=1
    ),
    "gaussian_process": _gaussian_process,
}
MODELS = {"classification": CLASSIFIERS, "regression": REGRESSORS}


def check_grids(grids: Mapping[str, Mapping[str, Sequence[Any]] | None], task: str) -> None:
    """Raise ``DatasetInputError`` if ``baselines.models`` names a model unknown for ``task``."""
    reject_unknown(
        grids, sorted(MODELS[task]), f"Parameter `{task}.baselines.models` names unknown models"
    )


def classifier(
    name: str, schema: Mapping[str, Any], seed: int = 0, params: Mapping[str, Any] | None = None
) -> Pipeline:
    """Baseline ``name`` unfitted: the feature encoder of ``schema`` and the model, with
    ``params`` set on the model."""
    model = CLASSIFIERS[name](seed).set_params(**dict(params or {}))
    return Pipeline([("encode", feature_encoder(schema)), ("model", model)])


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
    pipeline = classifier(name, schema, seed)
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


def fit_regressor(
    name: str,
    grid: Mapping[str, Sequence[Any]] | None,
    schema: Mapping[str, Any],
    train: tuple[pd.DataFrame, np.ndarray],
    validation: tuple[pd.DataFrame, np.ndarray],
    seed: int = 0,
) -> Pipeline:
    """Fit baseline ``name`` on the ``train`` (features, targets) once per point of ``grid``
    and return the pipeline (encoder + model) with the lowest MSE on ``validation``. Its
    ``best_params_`` and ``validation_mse_`` are set as attributes. A neighbourhood larger
    than the training rows (``n_neighbors``) is cut to them."""
    best: Pipeline | None = None
    for point in ParameterGrid({key: list(values) for key, values in (grid or {}).items()}):
        if point.get("n_neighbors", 0) > len(train[1]):  # a few rows: as many neighbours
            point = {**point, "n_neighbors": len(train[1])}
        pipeline = Pipeline(
            [("encode", feature_encoder(schema)), ("model", REGRESSORS[name](seed))]
        )
        pipeline.set_params(**{f"model__{key}": value for key, value in point.items()})
        with warnings.catch_warnings():
            # the paper's fixed budgets do not always converge; the validation loss says how well
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipeline.fit(*train)
        pipeline.best_params_ = dict(point)
        pipeline.validation_mse_ = float(
            mean_squared_error(validation[1], pipeline.predict(validation[0]))
        )
        if best is None or pipeline.validation_mse_ < best.validation_mse_:
            best = pipeline
    assert best is not None  # ParameterGrid({}) has one point
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

    Classifiers are tuned and fitted on the rows of ``search_splits`` (the training split by
    default; the original tuned on train + validation). Regressors (``schema["task"]`` is
    regression) are fitted on the training rows and chosen on the validation rows;
    ``search_splits``, ``cv_folds`` and ``n_jobs`` do not apply to them. Returns
    ``{repeat: {model name: pipeline}}``.
    """
    task = task_of(schema)
    check_grids(grids, task)
    features, targets = table[schema["features"]], table[schema["target"]].to_numpy()
    repeats = sorted(splits["repeat"].unique())
    models: dict[int, dict[str, Pipeline]] = {}
    progress = tqdm(total=len(repeats) * len(grids), desc=f"{dataset}: baselines", leave=False)
    for repeat in repeats:
        if task == "regression":
            train, validation = (rows_of(splits, repeat, s) for s in ("train", "validation"))
            fit = partial(
                fit_regressor,
                train=(features.iloc[train], targets[train]),
                validation=(features.iloc[validation], targets[validation]),
                seed=seed,
            )
        else:
            chosen = splits[(splits["repeat"] == repeat) & splits["split"].isin(search_splits)]
            rows = chosen["row"].to_numpy()
            fit = partial(
                fit_classifier,
                features=features.iloc[rows],
                labels=targets[rows],
                cv_folds=cv_folds,
                seed=seed,
                n_jobs=n_jobs,
            )
        models[repeat] = {}
        for name, grid in grids.items():
            progress.set_postfix_str(f"repeat {repeat}: {name}")
            started = time.perf_counter()
            model = fit(name, grid, schema)
            logger.debug(
                "%s repeat %d %s: %s in %.1fs",
                dataset,
                repeat,
                name,
                model.best_params_,
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
    with columns ``model, repeat, row, y_true, y_pred`` and, for classifiers, ``proba_<k>``."""
    features, labels = table[schema["features"]], table[schema["target"]].to_numpy()
    regression = task_of(schema) == "regression"
    parts = []
    for repeat, by_name in models.items():
        rows = rows_of(splits, repeat, "test")
        for name, model in by_name.items():
            test = features.iloc[rows]
            parts.append(
                pd.DataFrame(
                    {
                        "model": name,
                        "repeat": int(repeat),
                        "row": rows,
                        "y_true": labels[rows],
                        "y_pred": model.predict(test).astype(float if regression else int),
                        **({} if regression else _probabilities(model, test, schema)),
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def _probabilities(
    model: Pipeline, features: pd.DataFrame, schema: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """A classifier's ``proba_<k>`` columns for every class of the schema (0 for a class its
    training rows lacked)."""
    known = model.predict_proba(features)
    probabilities = np.zeros((len(features), len(schema["classes"])))
    probabilities[:, np.asarray(model.classes_, dtype=int)] = known
    return probability_columns(probabilities)
