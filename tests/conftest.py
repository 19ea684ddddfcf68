"""Shared fixtures: small tables made in the test, never downloaded."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")

SMALL_GRIDS = {
    "majority": {},
    "logistic_regression": {"C": [1, 10]},
    "knn": {"n_neighbors": [1, 3]},
    "xgboost": {"max_depth": [3]},
}


def make_mixed_table() -> pd.DataFrame:
    """120 rows: a numeric signal, a categorical column, a column with a gap, and a text target
    whose class follows the signal."""
    rng = np.random.default_rng(0)
    signal = rng.normal(size=120)
    return pd.DataFrame(
        {
            "signal": signal,
            "noise": rng.normal(size=120),
            "colour": rng.choice(["red", "green", "blue"], size=120),
            "gappy": np.where(np.arange(120) % 7 == 0, np.nan, 1.0),
            "kind": np.where(signal > 0.3, "high", np.where(signal < -0.3, "low", "mid")),
        }
    )


@pytest.fixture
def mixed_table() -> pd.DataFrame:
    return make_mixed_table()
