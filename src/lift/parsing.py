"""Generated text back to a prediction.

Classification rule: the generated text, cut at the completion suffix (``@@@``) or a newline,
must start (after white space) with a whole number that is a class index 0..K-1; the label is
that number. Anything else is invalid: it counts as a wrong prediction and is reported in
``invalid_rate``, never dropped."""

from __future__ import annotations

import re

INVALID = -1
_LEADING_INTEGER = re.compile(r"\s*(\d+)")


def parse_label(text: str, n_classes: int, completion_suffix: str = "@@@") -> int:
    """The class index written at the start of ``text``, or ``INVALID`` (-1)."""
    answer = text.split(completion_suffix, 1)[0] if completion_suffix else text
    answer = answer.split("\n", 1)[0]
    match = _LEADING_INTEGER.match(answer)
    if match is None or answer[match.end() :].strip():
        return INVALID
    label = int(match.group(1))
    return label if 0 <= label < n_classes else INVALID
