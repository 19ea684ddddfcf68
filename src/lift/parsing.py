"""Generated text back to a prediction.

Both rules first cut the text at the completion suffix (``@@@``) and at a newline.

Classification: the answer must start (after white space) with a whole number that is a class
index 0..K-1; the label is that number. Regression: the first number in the answer, with an
optional sign (``-``, the Unicode minus ``−`` or ``+``), decimals and an exponent (``1.5e-3``);
text around it is allowed. Anything else is invalid: a wrong label for classification; for
regression the training mean stands in. Either way it is counted and reported in
``invalid_rate``, never dropped.

With several sampled answers per prompt, the valid ones are aggregated: the most frequent label
(ties: the smallest), or the median number."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from lift.lift_settings import COMPLETION_SUFFIX

INVALID = -1
_LEADING_INTEGER = re.compile(r"\s*(\d+)")
# minus signs a model may write: ASCII hyphen-minus, the Unicode minus, small and full-width
_MINUS = str.maketrans({"\u2212": "-", "\ufe63": "-", "\uff0d": "-"})
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _answer(text: str, completion_suffix: str) -> str:
    answer = text.split(completion_suffix, 1)[0] if completion_suffix else text
    return answer.split("\n", 1)[0]


def parse_label(text: str, n_classes: int, completion_suffix: str = COMPLETION_SUFFIX) -> int:
    """The class index written at the start of ``text``, or ``INVALID`` (-1)."""
    answer = _answer(text, completion_suffix)
    match = _LEADING_INTEGER.match(answer)
    if match is None or answer[match.end() :].strip():
        return INVALID
    label = int(match.group(1))
    return label if 0 <= label < n_classes else INVALID


def parse_number(text: str, completion_suffix: str = COMPLETION_SUFFIX) -> float:
    """The first number written in ``text`` (before the suffix), or NaN if there is none or it
    is not finite (``1e999``)."""
    match = _NUMBER.search(_answer(text, completion_suffix).translate(_MINUS))
    if match is None:
        return math.nan
    value = float(match.group(0))
    return value if math.isfinite(value) else math.nan


def read_numbers(
    samples: Sequence[Sequence[str]], fallback: float, completion_suffix: str = COMPLETION_SUFFIX
) -> tuple[np.ndarray, np.ndarray]:
    """One number per prompt from its sampled answers: the median of the valid ones, or
    ``fallback`` (the training mean) if none is valid. Returns the numbers and which prompts had
    a valid answer."""
    values, valid = [], []
    for answers in samples:
        numbers = [parse_number(a, completion_suffix) for a in answers]
        numbers = [v for v in numbers if not math.isnan(v)]
        values.append(float(np.median(numbers)) if numbers else float(fallback))
        valid.append(bool(numbers))
    return np.array(values, dtype=float), np.array(valid, dtype=bool)
