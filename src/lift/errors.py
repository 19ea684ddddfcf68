"""The one exception type the method library raises for bad input data or configuration."""

from collections.abc import Iterable


class DatasetInputError(ValueError):
    """A dataset or its configuration cannot be used as given.

    The message names the dataset (and the column or parameter) and says what to do.
    """


def reject_unknown(names: Iterable[str], known: Iterable[str], subject: str) -> None:
    """Raise ``DatasetInputError`` "<subject> [unknown names]; the known ones are [known]." if
    any of ``names`` is not ``known`` (a typo in a parameter file, most often)."""
    known = list(known)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise DatasetInputError(f"{subject} {unknown}; the known ones are {known}.")
