"""The numeric answer parser: the documented rule at examples, and as properties (hypothesis)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lift.method.parsing import INVALID, parse_number
from lift.method.serialization import completion_for


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" 2.718@@@", 2.718),
        (" -3.142@@@", -3.142),
        (" \u22123.5@@@", -3.5),  # the Unicode minus
        (" +2@@@", 2.0),
        (" 1.5e-3", 0.0015),
        (" 2E+2@@@", 200.0),
        (" -.5", -0.5),
        (" 7.", 7.0),
        ("y = 4.2 units", 4.2),
        (" about 7, maybe 8", 7.0),
        (" 3.1@@@ 9.9", 3.1),  # after the suffix nothing counts
        (" 12\n34", 12.0),
        (" seven", math.nan),
        ("", math.nan),
        (" @@@ 5", math.nan),
        (" 1e999", math.nan),  # not finite
        (" -", math.nan),
        # read one way only, or not at all: never guessed
        (" 1,234", math.nan),  # a thousand, or 1.234 with a decimal comma?
        (" - 3", math.nan),  # a dash, or minus three?
        (" + 2", math.nan),
        (" 0x1F", math.nan),  # not 0
        (" 12kg", math.nan),
        (" 1.5, 2", 1.5),  # a comma and a space: a list
        (" 5 - 3", 5.0),
        (" (3)", 3.0),
        (" 3.5.", 3.5),  # the end of a sentence
    ],
)
def test_numeric_parsing_rule(text, expected):
    value = parse_number(text)
    assert (math.isnan(value) and math.isnan(expected)) or value == pytest.approx(expected)


@given(st.text())
def test_the_number_parser_never_raises(text):
    value = parse_number(text)
    assert isinstance(value, float)
    assert math.isnan(value) or math.isfinite(value)


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_the_number_parser_reads_back_every_serialized_target(value):
    completion = completion_for(value, task="regression", target_decimals=3)
    assert parse_number(completion) == float(f"{value:.3f}")


@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.text(alphabet=" =:y"),
    st.sampled_from([" ", "=", ": "]),
)
def test_a_number_after_words_is_read(value, words, apart):
    assert parse_number(f"{words}{apart}{value:.4f}") == float(f"{value:.4f}")


@given(
    st.integers(min_value=1, max_value=999),
    st.integers(min_value=0, max_value=999),
    st.sampled_from(["x", "kg", "_", "a"]),
)
def test_a_number_that_reads_two_ways_is_invalid_not_guessed(head, tail, letters):
    assert math.isnan(parse_number(f" {head},{tail:03d}"))  # comma-grouped digits
    assert math.isnan(parse_number(f" - {head}"))  # a sign apart from its digits
    assert math.isnan(parse_number(f" {head}{letters}{tail}"))  # glued to letters


def test_several_answers_aggregate_to_the_median_or_the_fallback():
    from lift.method.tasks import Regression

    samples = [[" 1.0", " 5.0", " 3.0"], [" x", " 4.0"], [" ?", ""]]
    answers = Regression().read(samples, np.array([9.0, 10.0]))
    np.testing.assert_array_equal(answers.predictions, [3.0, 4.0, 9.5])
    np.testing.assert_array_equal(answers.valid, [True, True, False])
    np.testing.assert_array_equal(answers.sample_mean, [3.0, 4.0, 9.5])
    # 1.4826 x the median absolute deviation (2.0), a standard deviation for Gaussian samples
    np.testing.assert_allclose(answers.sample_spread, [2.9652, np.nan, np.nan])
    greedy = Regression().read([[" 1.0"], [" x"]], np.array([9.0, 10.0]))
    assert greedy.sample_mean is None and greedy.sample_spread is None


def test_the_spread_of_sampled_answers_follows_their_noise_in_the_targets_units():
    from lift.method.encoding import FittedEncoding
    from lift.method.tasks import Regression

    rng = np.random.default_rng(0)
    # answers written as z-scores (one decimal) around each prompt's truth with known noise
    encoding = FittedEncoding(
        repeat=0,
        encoding="standardized",
        decimals=1,
        digits=3,
        target_encoding="standardized",
        target_decimals=1,
        target_mean=50.0,
        target_std=10.0,
    )
    spreads = []
    for noise in (0.0, 0.3, 0.6, 1.0):  # well above the 0.1 the answers are written to
        samples = [[f" {v:.1f}" for v in rng.normal(truth, noise, size=40)] for truth in (-1, 0, 2)]
        read = Regression(encoding=encoding).read(samples, np.zeros(1))
        spreads.append(read.sample_spread.mean())
        np.testing.assert_allclose(read.sample_mean, [40, 50, 70], atol=max(0.5, 6 * noise))
    assert spreads[0] == 0.0
    np.testing.assert_allclose(spreads[1:], [3.0, 6.0, 10.0], rtol=0.25)
    wild = [[f" {v:.1f}" for v in rng.normal(0, 0.3, size=40)] + [" 36.8", " -90.0"]]
    read = Regression(encoding=encoding).read(wild, np.zeros(1))  # two wild samples of 42
    assert read.sample_spread[0] == pytest.approx(3.0, rel=0.3)


def test_several_labels_vote_and_their_shares_are_the_probabilities():
    from lift.method.tasks import Classification

    answers = Classification(3).read([[" 1", " 2", " 2"], [" 0", " 1"], [" 7", " x"]], None)
    np.testing.assert_array_equal(answers.predictions, [2, 0, INVALID])
    np.testing.assert_array_equal(answers.valid, [True, True, False])
    # shares of the valid answers; no valid answer says nothing: uniform
    np.testing.assert_allclose(
        answers.probabilities, [[0, 1 / 3, 2 / 3], [0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3]]
    )


def test_scored_completions_become_probabilities_and_valid_labels():
    from lift.method.tasks import Classification

    answers = Classification(3).read_scores(np.log([[0.1, 0.6, 0.1], [0.5, 0.25, 0.25]]))
    np.testing.assert_array_equal(answers.predictions, [1, 0])
    assert answers.valid.all()
    np.testing.assert_allclose(answers.probabilities, [[0.125, 0.75, 0.125], [0.5, 0.25, 0.25]])
    assert answers.texts == [" 1@@@", " 0@@@"]
