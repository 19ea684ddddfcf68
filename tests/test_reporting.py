import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from conftest import METRICS_COLUMNS
from lift.metrics import classification_scores, score_predictions
from lift.reporting import accuracy_table, comparison_plot, summarize


def test_scores_count_every_test_row():
    scores = classification_scores(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]))
    assert scores["accuracy"] == 0.75
    assert scores["balanced_accuracy"] == 0.75
    assert scores["f1_macro"] == pytest.approx((2 / 3 + 0.8) / 2)


@pytest.fixture
def scores():
    predictions = pd.DataFrame(
        {
            "model": ["a"] * 8 + ["b"] * 8,
            "repeat": ([0] * 4 + [1] * 4) * 2,
            "row": list(range(4)) * 4,
            "y_true": [0, 1, 0, 1] * 4,
            "y_pred": [0, 1, 0, 1, 0, 1, 0, 0] + [0] * 8,
        }
    )
    splits = pd.DataFrame(
        {
            "row": [0, 1, 2, 3] * 2 + [4, 5] * 2,
            "repeat": [0] * 4 + [1] * 4 + [0, 0, 1, 1],
            "split": ["test"] * 8 + ["train"] * 4,
        }
    )
    splits.loc[splits.index[-1], "split"] = "validation"
    return score_predictions("toy", predictions, splits)


def test_summary_has_mean_and_std_over_repeats(scores):
    summary = summarize(scores, {"toy": {"a": 0.9}})
    row = summary.set_index("model").loc["a"]
    assert row["accuracy"] == pytest.approx(0.875)
    assert row["accuracy_std"] == pytest.approx(0.125)
    assert row["repeats"] == 2 and row["n_test"] == 4 and row["paper_accuracy"] == 0.9
    assert np.isnan(summary.set_index("model").loc["b", "paper_accuracy"])
    assert set(summary.columns) >= METRICS_COLUMNS


def test_accuracy_table_and_plot(scores):
    summary = summarize(scores)
    assert accuracy_table(summary).loc["toy", "b"] == 50.0
    figure = comparison_plot(summary)
    assert isinstance(figure, Figure)
    assert figure.axes[0].get_title().startswith("toy")
