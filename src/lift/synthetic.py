"""Synthetic classification datasets of the LIFT paper (lift-reference.md, "Synthetic
classification data"). Every generator is seeded and returns a table with features ``x1, x2``
and an integer ``label`` column."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs, make_circles, make_moons

from lift.errors import DatasetInputError

SYNTHETIC_TARGET = "label"


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


GENERATORS: dict[str, Callable[..., pd.DataFrame]] = {
    "blobs": blobs,
    "moons": moons,
    "circles": circles,
    "two_circles": two_circles,
    "nine_gaussians": nine_gaussians,
}


def generate(name: str, n_samples: int, seed: int, **options: float) -> pd.DataFrame:
    """Generate the synthetic dataset ``name`` (one of ``GENERATORS``) with ``n_samples`` rows."""
    if name not in GENERATORS:
        raise DatasetInputError(
            f"Unknown synthetic dataset '{name}'. Choose one of {sorted(GENERATORS)} "
            "in the dataset's `source.name` parameter."
        )
    if int(n_samples) < 10:
        raise DatasetInputError(
            f"Synthetic dataset '{name}': n_samples={n_samples} is too small; use at least 10."
        )
    return GENERATORS[name](n_samples=int(n_samples), seed=int(seed), **options)
