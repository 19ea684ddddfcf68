import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from conftest import METRICS_COLUMNS
from lift.evaluation.metrics import classification_scores, score_predictions
from lift.evaluation.reporting import calibration_plot, comparison_plot, metric_table, summarize


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
    return score_predictions("toy", predictions, splits, "classification")


def test_summary_has_mean_and_std_over_repeats(scores):
    summary = summarize(scores, "classification", {"toy": {"a": 0.9}})
    row = summary.set_index("model").loc["a"]
    assert row["accuracy"] == pytest.approx(0.875)
    assert row["accuracy_std"] == pytest.approx(0.125)
    assert row["repeats"] == 2 and row["n_test"] == 4 and row["paper_accuracy"] == 0.9
    assert np.isnan(summary.set_index("model").loc["b", "paper_accuracy"])
    assert set(summary.columns) >= METRICS_COLUMNS


def test_accuracy_table_and_plot(scores):
    summary = summarize(scores, "classification")
    assert metric_table(summary).loc["toy", "b"] == 50.0
    figure = comparison_plot(summary)
    assert isinstance(figure, Figure)
    assert figure.axes[0].get_title().startswith("toy")


def test_regression_scores_follow_the_papers_rae():
    from lift.evaluation.metrics import regression_scores

    y_true, y_pred = np.array([1.0, 2.0, 3.0, 6.0]), np.array([1.0, 3.0, 3.0, 4.0])
    scores = regression_scores(y_true, y_pred, np.array([True, True, False, True]))
    # sum |y_hat - y| / sum |mean(y) - y|, mean(y) = 3
    assert scores["rae"] == pytest.approx(3 / 6)
    assert scores["rmse"] == pytest.approx(np.sqrt(5 / 4))
    assert scores["mae"] == pytest.approx(0.75)
    assert scores["r2"] == pytest.approx(1 - 5 / 14)
    assert scores["invalid_rate"] == 0.25


def test_regression_summary_plot_and_table():
    from lift.evaluation.reporting import metric_table

    predictions = pd.DataFrame(
        {
            "model": ["lift"] * 4 + ["mean"] * 4,
            "repeat": [0] * 8,
            "row": list(range(4)) * 2,
            "y_true": [1.0, 2.0, 3.0, 6.0] * 2,
            "y_pred": [1.0, 3.0, 3.0, 4.0] + [3.0] * 4,
            "valid": [True, False, True, True] + [np.nan] * 4,  # baselines have no `valid`
        }
    )
    splits = pd.DataFrame(
        {"row": range(6), "repeat": 0, "split": ["test"] * 4 + ["train", "validation"]}
    )
    scores = score_predictions("fn", predictions, splits, "regression")
    summary = summarize(scores, "regression", {"fn": {"lift": 0.11}})
    row = summary.set_index("model").loc["lift"]
    assert row["rae"] == pytest.approx(0.5) and row["invalid_rate"] == 0.25
    assert row["paper_rae"] == 0.11
    assert summary.set_index("model").loc["mean", "invalid_rate"] == 0
    assert {"rae", "rae_std", "rmse", "mae", "r2", "invalid_rate", "repeats"} <= set(
        summary.columns
    )
    assert metric_table(summary).loc["fn", "mean"] == 1.0
    figure = comparison_plot(summary)
    assert "RAE" in figure.axes[0].get_xlabel()


def test_a_reliability_diagram_leaves_out_a_model_without_probabilities():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 40)
    scored = rng.dirichlet([1, 1, 1], 40)
    predictions = pd.concat(
        [
            pd.DataFrame({"model": "logistic_regression", "y_true": y_true}).assign(
                **{f"proba_{k}": scored[:, k] for k in range(3)}
            ),
            pd.DataFrame({"model": "lift", "y_true": y_true}),  # generated answers: none
            # a two-class table stacked with it: its missing third class counts as 0
            pd.DataFrame({"model": "knn", "y_true": y_true % 2, "proba_0": 0.7, "proba_1": 0.3}),
        ],
        ignore_index=True,
    )
    (axis,) = calibration_plot(predictions, title="t").axes
    assert axis.get_legend_handles_labels()[1] == ["calibrated", "logistic_regression", "knn"]
    assert axis.get_title() == "t"


def test_lifts_status_is_summarized_over_repeats():
    """`lift_status` says where an adapter learnt the prior only: in every repeat, in some."""
    rows = []
    for repeat, status in enumerate(["at_prior", "learnt", "at_prior"]):
        for model, lift_status in (("lift", status), ("majority", np.nan)):
            rows += [
                {"model": model, "repeat": repeat, "row": r, "y_true": r % 2, "y_pred": 0}
                | ({"lift_status": lift_status} if model == "lift" else {})
                for r in range(4)
            ]
    predictions = pd.DataFrame(rows)
    splits = pd.DataFrame(
        {
            "row": list(range(6)) * 3,
            "repeat": np.repeat([0, 1, 2], 6),
            "split": (["test"] * 4 + ["train", "validation"]) * 3,
        }
    )
    scores = score_predictions("t", predictions, splits, "classification", n_classes=2)
    summary = summarize(scores, "classification").set_index("model")
    assert summary.loc["lift", "lift_status"] == "at_prior in 2 of 3 repeats"
    assert summary.loc["majority", "lift_status"] == ""
    only_first = summarize(scores[scores["repeat"] == 0], "classification").set_index("model")
    assert only_first.loc["lift", "lift_status"] == "at_prior"
    from lift.evaluation.reporting import at_prior_notes

    (note,) = at_prior_notes(summarize(scores, "classification"))
    assert note.startswith("t: lift learnt the prior only (at_prior in 2 of 3 repeats)")
