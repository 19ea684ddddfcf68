"""Synthetic datasets of the LIFT paper, seeded.

Classification (the LIFT paper, arXiv:2206.06565): tables with features
``x1, x2`` and an integer ``label`` column. Regression: six functions of ``p`` features, each
a per-feature term averaged over the features, and planes (a weighted sum of the features);
tables with ``x1..xp``, the target ``y`` and a ``split`` column (the noiseless test rows are
fixed by the generator), plus a noiseless grid for extrapolation. Pretext tasks of a table's
shape, and gibberish text, for a first stage of fine-tuning."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import partial
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import Field
from sklearn.datasets import make_blobs, make_circles, make_classification, make_moons

from lift.config.errors import DatasetInputError
from lift.config.lift import Settings

SYNTHETIC_TARGET = "label"
FUNCTION_TARGET = "y"
SPLIT_COLUMN = "split"


def _table(features: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    columns = {f"x{i + 1}": features[:, i] for i in range(features.shape[1])}
    return pd.DataFrame({**columns, SYNTHETIC_TARGET: labels.astype(int)})


def blobs(n_samples: int, seed: int, centers: int = 4) -> pd.DataFrame:
    """Isotropic Gaussian blobs: ``make_blobs(centers=4, n_features=2)``."""
    features, labels = make_blobs(
        n_samples=n_samples, centers=centers, n_features=2, random_state=seed
    )
    return _table(features, labels)


def moons(n_samples: int, seed: int, noise: float = 0.1) -> pd.DataFrame:
    """Two interleaving half circles: ``make_moons(noise=0.1)``."""
    features, labels = make_moons(n_samples=n_samples, noise=noise, random_state=seed)
    return _table(features, labels)


def circles(n_samples: int, seed: int, noise: float = 0.1, factor: float = 0.8) -> pd.DataFrame:
    """Two concentric circles: ``make_circles(noise=0.1, factor=0.8)``."""
    features, labels = make_circles(
        n_samples=n_samples, noise=noise, factor=factor, random_state=seed
    )
    return _table(features, labels)


def two_circles(
    n_samples: int, seed: int, noise: float = 0.1, factor: float = 0.8, shift: float = 3.0
) -> pd.DataFrame:
    """Two circle sets of ``n_samples / 2`` points; the second is shifted by ``shift`` in x and
    has its labels flipped, so no single radius separates the classes."""
    half = n_samples // 2
    left, left_labels = make_circles(n_samples=half, noise=noise, factor=factor, random_state=seed)
    # seed + 1: the two sets must not be copies of each other
    right, right_labels = make_circles(
        n_samples=n_samples - half, noise=noise, factor=factor, random_state=seed + 1
    )
    right = right + np.array([shift, 0.0])
    features = np.vstack([left, right])
    labels = np.concatenate([left_labels, 1 - right_labels])
    return _table(features, labels)


def nine_gaussians(
    n_samples: int, seed: int, spacing: float = 10.0, variance: float = 0.1
) -> pd.DataFrame:
    """Nine Gaussian classes with means on the grid {-10, 0, 10}^2 and covariance 0.1 I;
    ``n_samples // 9`` points each (2000 gives the paper's 222)."""
    rng = np.random.default_rng(seed)
    per_class = n_samples // 9
    grid = [-spacing, 0.0, spacing]
    means = [(a, b) for a in grid for b in grid]
    features = np.vstack(
        [rng.normal(loc=mean, scale=np.sqrt(variance), size=(per_class, 2)) for mean in means]
    )
    labels = np.repeat(np.arange(len(means)), per_class)
    return _table(features, labels)


def tanh_network(
    n_samples: int, seed: int, difficulty: float = 1.0, low: float = -6.0, high: float = 6.0
) -> pd.DataFrame:
    """Points drawn uniformly in ``[low, high]^2``, labelled by a random 2-6-6-2 network with
    tanh activations (the label noise study's data, after the paper's): the inputs scaled to
    [-1, 1], weights drawn from N(0, difficulty^2), so a larger ``difficulty`` bends the
    boundary more. The class is the larger output, its threshold moved to the median so the
    two classes are equally common. ``seed`` draws the network and the points."""
    if difficulty <= 0:
        raise DatasetInputError(
            f"Synthetic dataset 'tanh_network': difficulty {difficulty} must be > 0."
        )
    rng = np.random.default_rng(seed)
    layers = [(2, 6), (6, 6), (6, 2)]
    weights = [
        (rng.normal(0, difficulty, size=s), rng.normal(0, difficulty, size=s[1])) for s in layers
    ]
    features = rng.uniform(low, high, size=(n_samples, 2))
    hidden = (2 * features - (low + high)) / (high - low)
    for k, (weight, bias) in enumerate(weights):
        hidden = hidden @ weight + bias
        if k < len(weights) - 1:
            hidden = np.tanh(hidden)
    margin = hidden[:, 1] - hidden[:, 0]
    return _table(features, (margin > np.median(margin)).astype(int))


CLASSIFICATION_GENERATORS: dict[str, Callable[..., pd.DataFrame]] = {
    "blobs": blobs,
    "moons": moons,
    "circles": circles,
    "two_circles": two_circles,
    "nine_gaussians": nine_gaussians,
    "tanh_network": tanh_network,
}


PRETEXT = "pretext"  # the column of a pretext table saying which task a row belongs to


def pretext_tasks(
    dataset: str,
    features: list[str],
    target: str,
    n_classes: int,
    rows: int = 100,
    tasks: int = 2,
    seed: int = 0,
) -> pd.DataFrame:
    """``tasks`` synthetic classification tasks of the target's shape, for a first stage of
    fine-tuning (the paper's pretext tasks): ``make_classification`` with as many informative
    numeric features as the target has (under its ``features``' names) and ``n_classes``
    classes, ``rows`` rows each (seed ``seed + task``), 80 % training and 20 % validation rows
    (``split``), the task's index in ``pretext``."""
    if n_classes > 2 ** len(features):
        raise DatasetInputError(
            f"Dataset '{dataset}': pretext tasks of {len(features)} features cannot have "
            f"{n_classes} classes (make_classification draws at most 2^features); two-stage "
            "fine-tuning needs a table with more features."
        )
    parts = []
    for task in range(int(tasks)):
        x, y = make_classification(
            n_samples=int(rows),
            n_features=len(features),
            n_informative=len(features),
            n_redundant=0,
            n_repeated=0,
            n_classes=int(n_classes),
            n_clusters_per_class=1,
            random_state=int(seed) + task,
        )
        part = pd.DataFrame(x, columns=list(features)).assign(**{target: y.astype(int)})
        split = np.where(np.arange(len(part)) < round(0.8 * len(part)), "train", "validation")
        parts.append(part.assign(split=split, **{PRETEXT: task}))
    return pd.concat(parts, ignore_index=True)


def pretext_functions(
    ranges: Mapping[str, tuple[float, float]],
    target: str,
    spread: tuple[float, float],
    rows: int = 100,
    tasks: int = 2,
    seed: int = 0,
) -> pd.DataFrame:
    """``tasks`` synthetic regression tasks of the target's shape, for a first stage of
    fine-tuning: planes ``y = a + sum_i w_i x_i`` with directions ``w`` drawn from U(-1, 1)
    (seed ``seed + task``), their features (``ranges``: name -> (low, high), the target's)
    drawn uniformly in the target's ranges, ``a`` and the length of ``w`` set so that ``y``
    has the target's mean and standard deviation (``spread``), noiseless; ``rows`` rows each,
    80 % training and 20 % validation rows (``split``), the task's index in ``pretext``."""
    mean, sd = spread
    parts = []
    for task in range(int(tasks)):
        rng = np.random.default_rng(int(seed) + task)
        weights = rng.uniform(-1.0, 1.0, size=len(ranges))
        columns = {n: rng.uniform(low, high, size=int(rows)) for n, (low, high) in ranges.items()}
        part = pd.DataFrame(columns)
        plane = part.to_numpy() @ weights
        part[target] = mean + (plane - plane.mean()) * (sd / (plane.std() or 1.0))
        split = np.where(np.arange(len(part)) < round(0.8 * len(part)), "train", "validation")
        parts.append(part.assign(split=split, **{PRETEXT: task}))
    return pd.concat(parts, ignore_index=True)


def gibberish(rows: int = 200, words: int = 12, seed: int = 0) -> pd.DataFrame:
    """Gibberish text for a first stage of fine-tuning that teaches no task (the paper's GPT-J
    "first tuned on gibberish"): ``rows`` pairs of a prompt of ``words`` made-up words (1 to 8
    random lowercase letters each) and a completion of a quarter as many, drawn with
    ``seed``; 80 % training and 20 % validation rows (``split``)."""
    if int(rows) < 2 or int(words) < 1:
        raise DatasetInputError(
            f"Gibberish text needs at least 2 rows of at least 1 word; got rows={rows}, "
            f"words={words}."
        )
    rng = np.random.default_rng(int(seed))
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))

    def sentence(count: int) -> str:
        return " ".join("".join(rng.choice(letters, rng.integers(1, 9))) for _ in range(count))

    prompts, completions = [], []
    for _ in range(int(rows)):
        prompts.append(sentence(int(words)))
        completions.append(" " + sentence(max(1, int(words) // 4)))
    split = np.where(np.arange(int(rows)) < round(0.8 * int(rows)), "train", "validation")
    return pd.DataFrame({"prompt": prompts, "completion": completions, SPLIT_COLUMN: split})


def _piecewise(x: np.ndarray) -> np.ndarray:
    flat = np.where(x < -3, x + 6, np.where(x < 3, 0.0, x - 6))
    return 18 * ((flat + 4) / 8 - 0.5)


# the per-feature term of each function; every one maps [-10, 10] onto about [-9, 9]
FUNCTION_TERMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: 0.9 * x,
    "quadratic": lambda x: (x**2 - 50) * 9 / 50,
    "exponential": lambda x: 18 * ((np.exp(0.2 * x) - np.exp(-2)) / (np.exp(2) - np.exp(-2)) - 0.5),
    "cosine": lambda x: 9 * np.cos(0.5 * np.pi * x),
    "l1norm": lambda x: (np.abs(x) / 10 - 0.5) * 18,
    "piecewise": _piecewise,
}


PLANE = "plane"  # the regression generator of a weighted sum of the features (``plane``)


def _check_function(name: str) -> Callable[[np.ndarray], np.ndarray]:
    if name not in FUNCTION_TERMS:
        raise DatasetInputError(
            f"Unknown synthetic regression function '{name}'. Choose one of "
            f"{sorted(FUNCTION_TERMS)} or '{PLANE}' (with `source.coefficients`) in the "
            "dataset's `source.name` parameter."
        )
    return FUNCTION_TERMS[name]


def function_value(name: str, features: np.ndarray) -> np.ndarray:
    """The noiseless value of function ``name`` at each row of ``features`` (n x p): the
    function's term averaged over the p features."""
    term = _check_function(name)
    return term(np.asarray(features, dtype=float)).mean(axis=1)


def _function_table(features: np.ndarray, target: np.ndarray) -> pd.DataFrame:
    columns = {f"x{i + 1}": features[:, i] for i in range(features.shape[1])}
    return pd.DataFrame({**columns, FUNCTION_TARGET: target})


def function_table(
    name: str,
    p: int = 1,
    n_train: int = 200,
    n_validation: int = 50,
    n_test: int = 100,
    noise: float = 0.1,
    domain: tuple[float, float] = (-10.0, 10.0),
    integer: bool = False,
    positive: bool = False,
    seed: int = 0,
) -> pd.DataFrame:
    """Rows of function ``name`` with ``p`` features drawn uniformly from ``domain``.

    ``y = f(x) + N(0, (noise * std f)^2)`` on the train and validation rows; the test rows are
    noiseless (std f is taken over the train and validation rows). ``integer``: the features
    are whole numbers; ``positive``: the domain starts at 0 (``[0, domain[1]]``). Returns
    ``x1..xp, y, split`` with ``n_train`` train, ``n_validation`` validation and ``n_test``
    test rows, in that order.
    """
    _check_function(name)
    sizes = {"train": n_train, "validation": n_validation, "test": n_test}
    value = partial(function_value, name)
    return _noisy_rows(f"Synthetic function '{name}'", value, p, sizes, noise, domain, integer,
                       positive, seed)  # fmt: skip


def plane(
    coefficients: list[float],
    intercept: float = 0.0,
    n_train: int = 200,
    n_validation: int = 50,
    n_test: int = 100,
    noise: float = 0.1,
    domain: tuple[float, float] = (-10.0, 10.0),
    integer: bool = False,
    positive: bool = False,
    seed: int = 0,
) -> pd.DataFrame:
    """Rows of the plane ``y = intercept + sum_i coefficients[i] * x_i`` (as many features as
    coefficients; the paper's two-stage case: ``[0.2, 0.4]``), drawn and split as
    ``function_table``'s."""
    weights = np.asarray(coefficients, dtype=float)
    if weights.ndim != 1 or len(weights) == 0 or not np.isfinite(weights).all():
        raise DatasetInputError(
            f"Synthetic function 'plane': `source.coefficients` must be a list of finite "
            f"numbers, one per feature, e.g. [0.2, 0.4]; it is {coefficients!r}."
        )
    sizes = {"train": n_train, "validation": n_validation, "test": n_test}
    value = lambda features: float(intercept) + features @ weights  # noqa: E731
    return _noisy_rows("Synthetic function 'plane'", value, len(weights), sizes, noise, domain,
                       integer, positive, seed)  # fmt: skip


def _noisy_rows(
    what: str,
    value: Callable[[np.ndarray], np.ndarray],
    p: int,
    sizes: Mapping[str, int],
    noise: float,
    domain: tuple[float, float] | None,
    integer: bool,
    positive: bool,
    seed: int,
) -> pd.DataFrame:
    """``x1..xp, y, split``: features drawn uniformly from ``domain``, ``y = value(x)`` plus
    noise of ``noise`` times its std on the train and validation rows, the test rows noiseless."""
    low, high = (float(domain[0]), float(domain[1])) if domain is not None else (-10.0, 10.0)
    if positive:
        low = 0.0
    sizes = {split: int(size) for split, size in sizes.items()}
    if int(p) < 1 or low >= high or min(sizes.values()) < 1:
        raise DatasetInputError(
            f"{what}: need p >= 1, a domain [low, high] with low < high and at least one row "
            f"per split; got p={p}, domain=[{low}, {high}], sizes {sizes}."
        )
    rng = np.random.default_rng(int(seed))
    n_rows = sum(sizes.values())
    if integer:
        features = rng.integers(int(np.ceil(low)), int(np.floor(high)) + 1, size=(n_rows, int(p)))
        features = features.astype(float)
    else:
        features = rng.uniform(low, high, size=(n_rows, int(p)))
    target = np.asarray(value(features), dtype=float)
    noisy = n_rows - sizes["test"]
    target[:noisy] += rng.normal(0.0, float(noise) * target[:noisy].std(), size=noisy)
    table = _function_table(features, target)
    table[SPLIT_COLUMN] = np.repeat(list(sizes), list(sizes.values()))
    return table


class ExtrapolationSettings(Settings):
    """The grid beyond the training domain on which a one-feature function's LIFT model and
    ``baselines`` are drawn (``regression.extrapolation``; the paper's [-20, 20])."""

    low: Annotated[float, Field(allow_inf_nan=False)] = -20.0
    """The grid's lowest feature value."""
    high: Annotated[float, Field(allow_inf_nan=False)] = 20.0
    """The grid's highest feature value."""
    points: Annotated[int, Field(ge=2)] = 81
    """Points of the grid, evenly spaced."""
    baselines: list[str] = []
    """The baselines drawn beside LIFT (names of `regression.baselines`)."""

    @classmethod
    def from_params(
        cls, params: Mapping[str, Any] | None, path: str = "regression.extrapolation"
    ) -> ExtrapolationSettings:
        """Validated extrapolation parameters (``low`` below ``high``)."""
        settings = cls.parsed(params, path)
        if settings.low >= settings.high:
            raise DatasetInputError(
                f"Parameters `{path}.low` and `high` are {settings.low} and {settings.high}; "
                "`low` must be below `high`."
            )
        return settings


def function_grid(
    name: str, low: float = -20.0, high: float = 20.0, points: int = 81, integer: bool = False
) -> pd.DataFrame:
    """The noiseless function ``name`` of one feature on an evenly spaced grid over
    ``[low, high]`` (whole numbers only if ``integer``): ``x1, y``. The paper's extrapolation
    grid is [-20, 20], twice the training domain."""
    grid = np.linspace(float(low), float(high), int(points))
    if integer:
        grid = np.unique(np.round(grid))
    features = grid.reshape(-1, 1)
    return _function_table(features, function_value(name, features))


def generator(task: str, name: str) -> Callable[..., pd.DataFrame]:
    """The generator of synthetic dataset ``name`` for ``task``: a classification generator
    (``n_samples``, ``seed``, ...) or, for regression, ``function_table`` with ``name`` bound.
    An unknown name raises ``DatasetInputError`` with the known ones."""
    if task == "regression":
        if name == PLANE:
            return plane
        _check_function(name)
        return partial(function_table, name)
    if name not in CLASSIFICATION_GENERATORS:
        raise DatasetInputError(
            f"Unknown synthetic classification dataset '{name}'. Choose one of "
            f"{sorted(CLASSIFICATION_GENERATORS)} in the dataset's `source.name` parameter "
            f"(the regression functions {sorted(FUNCTION_TERMS)} belong to the regression "
            "pipeline)."
        )
    return CLASSIFICATION_GENERATORS[name]


def options_of(task: str, name: str) -> list[str]:
    """The options (``source`` keys besides ``kind`` and ``name``) that the generator of
    ``name`` takes."""
    return list(inspect.signature(generator(task, name)).parameters)


def generate(task: str, name: str, **options: Any) -> pd.DataFrame:
    """Generate the synthetic dataset ``name`` for ``task`` with the generator's ``options``."""
    make = generator(task, name)
    if task == "regression":
        return make(**options)
    n_samples, seed = options.pop("n_samples", None), options.pop("seed", 0)
    if n_samples is None or int(n_samples) < 10:
        raise DatasetInputError(
            f"Synthetic dataset '{name}' needs `source.n_samples` of at least 10; it is "
            f"{n_samples}."
        )
    return make(n_samples=int(n_samples), seed=int(seed), **options)
