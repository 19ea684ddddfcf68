"""Generated text back to a prediction.

Both rules first cut the text at the completion suffix (``@@@``) and at a newline.

Classification: the answer must start (after white space) with a whole number that is a class
index 0..K-1; the label is that number; where classes are written by name, the answer must be
one class's name (white space around it aside). Regression: the first number in the answer, with
an optional sign (``-``, the Unicode minus ``−`` or ``+``), decimals and an exponent (``1.5e-3``);
text around it is allowed, apart from it by a space or punctuation. A number that cannot be read
one way only is invalid, not guessed: digits grouped by a comma (``1,234``: a thousand, or 1.234
with a decimal comma?), a sign apart from its digits (``- 3``: a dash or minus three?), and a
number glued to letters (``0x1F``, ``12kg``). Anything else is invalid as well: a wrong label
for classification; for regression the training mean stands in. Either way it is counted and
reported in ``invalid_rate``, never dropped.

With several sampled answers per prompt, the valid ones are aggregated: the most frequent label
(ties: the smallest), or the median number."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from lift.config.lift import COMPLETION_SUFFIX
from lift.evaluation.metrics import INVALID

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


def parse_name(text: str, names: Sequence[str], completion_suffix: str = COMPLETION_SUFFIX) -> int:
    """The index of the class whose name ``text`` answers (white space aside), or ``INVALID``."""
    answer = _answer(text, completion_suffix).strip()
    return next((k for k, name in enumerate(names) if name.strip() == answer), INVALID)


def parse_number(text: str, completion_suffix: str = COMPLETION_SUFFIX) -> float:
    """The first number written in ``text`` (before the suffix), or NaN if there is none or it
    is not finite (``1e999``)."""
    answer = _answer(text, completion_suffix).translate(_MINUS)
    match = _NUMBER.search(answer)
    if match is None or not _stands_alone(answer, match.start(), match.end()):
        return math.nan
    value = float(match.group(0))
    return value if math.isfinite(value) else math.nan


def _stands_alone(answer: str, start: int, end: int) -> bool:
    """Whether the number at ``answer[start:end]`` reads one way only (module docstring)."""
    before, after = answer[:start], answer[end:]
    glued_before = bool(before) and (before[-1].isalnum() or before[-1] in "_.,")
    glued_after = bool(after) and (
        after[0].isalnum() or after[0] == "_" or (after[0] in ".," and after[1:2].isdigit())
    )
    loose_sign = answer[start] not in "+-" and re.search(r"[+-]\s+$", before) is not None
    return not (glued_before or glued_after or loose_sign)


def sampled_numbers(
    samples: Sequence[Sequence[str]], completion_suffix: str = COMPLETION_SUFFIX
) -> list[np.ndarray]:
    """The valid numbers of each prompt's sampled answers (an empty array where none parsed)."""
    numbers = []
    for answers in samples:
        values = [parse_number(a, completion_suffix) for a in answers]
        numbers.append(np.array([v for v in values if not math.isnan(v)], dtype=float))
    return numbers
