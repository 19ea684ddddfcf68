"""The project's own refusals printed as their message alone: bad input, bad parameters, runs
that would mix, a missing extra. They say what is wrong and what to do; the 100-line traceback
Kedro's console would print before them only hides that. Any other exception keeps its
traceback, and ``LIFT_TRACEBACK=1`` brings the traceback back for these too."""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import Any

from kedro.framework.hooks import hook_impl

from lift.config.errors import DatasetInputError, MissingExtra

BRIEF = (DatasetInputError, MissingExtra)  # DatasetInputError includes lineage's RunMixError
# Kedro's own refusals of a command's input that say all there is to say (a misspelt
# `--pipelines` name, with the names it may have meant)
KEDRO_REFUSALS = ("Failed to find the pipeline named",)
SHOW = "LIFT_TRACEBACK"  # set (to anything but 0) to see the traceback of a brief error too


def is_brief(kind: type[BaseException], error: BaseException) -> bool:
    """Whether ``error`` is a refusal whose message is all a user needs."""
    if issubclass(kind, BRIEF):
        return True
    return issubclass(kind, ValueError) and str(error).startswith(KEDRO_REFUSALS)


def brief(previous: Any) -> Any:
    """An excepthook that prints a ``BRIEF`` error as its message, and hands every other one
    to ``previous``."""

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        if is_brief(kind, error) and os.environ.get(SHOW, "0") in ("", "0"):
            print(f"\n{kind.__name__}: {error}", file=sys.stderr)
            print(f"({SHOW}=1 shows where it was raised.)", file=sys.stderr)
            return
        previous(kind, error, trace)

    hook.brief = True  # type: ignore[attr-defined]
    return hook


def install() -> None:
    """``brief`` over the current excepthook, once."""
    if not getattr(sys.excepthook, "brief", False):
        sys.excepthook = brief(sys.excepthook)


class BriefErrors:
    """Installs ``brief`` once Kedro's logging is configured (its rich handler installs rich's
    traceback hook whenever it is built, over an earlier one)."""

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        install()
