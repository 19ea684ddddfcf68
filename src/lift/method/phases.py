"""The phases of a run, and the seconds the method library spends in a phase while another
phase's node runs (the base model is read from disk inside the first node that needs it).

Every node carries one phase as a tag (``kedro run --tags=training`` runs one); the end-of-run
summary adds the nodes' seconds up by phase, moving what ``timed`` measured to its own phase."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

PHASES = ("data", "model_load", "serialization", "training", "prediction", "baselines", "reporting")

_SPENT: defaultdict[str, float] = defaultdict(float)


@contextmanager
def timed(phase: str) -> Iterator[None]:
    """Count the seconds of the block towards ``phase`` (one of ``PHASES``)."""
    if phase not in PHASES:
        raise ValueError(f"Unknown phase {phase!r}; the phases are {list(PHASES)}.")
    started = time.perf_counter()
    try:
        yield
    finally:
        _SPENT[phase] += time.perf_counter() - started


def spent() -> dict[str, float]:
    """Seconds this process has counted per phase with ``timed`` so far."""
    return dict(_SPENT)
