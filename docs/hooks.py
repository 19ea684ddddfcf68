"""MkDocs hooks (mkdocs.yml `hooks`): the pages that are generated, so that they cannot drift.

- `<!-- readme -->`: the README, as the home page (its links to docs/ made the site's own).
- `<!-- parameters -->`: every parameter of the typed settings (``lift.config.lift`` and the
  dataset entry), with its type, its default per task, the paper preset, and its docstring.
- `<!-- default-run-metrics -->`: the metrics of the default run that `make bench` measured,
  read from docs/performance.json.
- `<!-- recipe-study: <recipe> ... -->`: the test scores of those recipes of the training-recipe
  study (`benchmarks/recipe.py`), read from docs/results/recipe-study.jsonl.
- `<!-- epoch-choice -->`: the ways of choosing the epoch scored on the fits of
  docs/results/epoch-choice.jsonl (`benchmarks/epoch_choice.py`);
  `<!-- epoch-choice: repeats averaged -->`: from the same fits, each table's repeats averaged.
- `<!-- realdata: <task> -->`: the held-in suite's tables run through the pipeline, against
  their baselines, read from docs/results/realdata/ (`benchmarks/realdata.py`).
"""

from __future__ import annotations

import importlib.util
import json
import re
import types
import typing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if "<!-- readme -->" in markdown:
        markdown = markdown.replace("<!-- readme -->", readme())
    if "<!-- parameters -->" in markdown:
        markdown = markdown.replace("<!-- parameters -->", parameters())
    if "<!-- default-run-metrics -->" in markdown:
        markdown = markdown.replace("<!-- default-run-metrics -->", default_run_metrics())
    markdown = re.sub(
        r"<!-- recipe-study: ([^>|]+?)(?: \| ([^>]+?))? -->",
        lambda m: recipe_study(m.group(1).split(), (m.group(2) or "").split() or None),
        markdown,
    )
    if "<!-- epoch-choice -->" in markdown:
        markdown = markdown.replace("<!-- epoch-choice -->", epoch_choice())
    if "<!-- epoch-choice: repeats averaged -->" in markdown:
        markdown = markdown.replace(
            "<!-- epoch-choice: repeats averaged -->", epoch_choice(averaged=True)
        )
    markdown = re.sub(
        r"<!-- realdata: (\w+) -->", lambda m: _benchmark("realdata").table(m.group(1)), markdown
    )
    return markdown


def readme() -> str:
    """The README without its title, its links into docs/ made relative to the site, and its
    links to the repository's other files written as their paths."""
    text = (ROOT / "README.md").read_text().split("\n", 1)[1]

    def link(match: re.Match) -> str:
        label, target = match.group(1), match.group(2)
        if target.startswith(("http://", "https://", "#")):
            return match.group(0)
        if target.startswith("docs/"):
            return f"[{label}]({target.removeprefix('docs/')})"
        return f"{label} (`{target}`)"

    return re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)", link, text).replace("](docs/", "](")


# --- the parameter reference -------------------------------------------------------------


def field_type(field: Any) -> str:
    """A field's type with the bounds pydantic keeps beside it (``Annotated`` at the top), safe
    in a table cell."""
    if "Source" in str(field.annotation):
        return "a source (below)"
    annotation = field.annotation
    if field.metadata:
        annotation = typing.Annotated[(annotation, *field.metadata)]
    return type_name(annotation).replace("|", "\\|")


def prose(text: str | None) -> str:
    """A docstring's first paragraph on one line, safe in a table cell."""
    return " ".join((text or "").split("\n\n")[0].split()).replace("|", "\\|")


def type_name(annotation: Any) -> str:
    """A reader's name for a field's type: `one of a, b`, `integer > 0`, `list of number`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        base, *metadata = args
        bounds = []
        for item in metadata:
            for attribute in getattr(item, "metadata", [item]):
                for key, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
                    value = getattr(attribute, key, None)
                    if value is not None:
                        bounds.append(f"{sign} {value}")
                if getattr(attribute, "min_length", None):
                    bounds.append("not empty")
                if getattr(attribute, "pattern", None):
                    bounds.append(f"matching `{attribute.pattern}`")
        name = type_name(base)
        return f"{name} {', '.join(bounds)}" if bounds else name
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        named = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(named) + (" or null" if type(None) in args else "")
    if origin is list:
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return "mapping"
    return {int: "integer", float: "number", str: "text", bool: "true or false"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def shown(value: Any) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    return f"`{json.dumps(value)}`"


def fields_table(model: type, path: str, columns: dict[str, dict[str, Any]]) -> list[str]:
    """One table per settings class: a row per field that is not itself a settings class
    (those get their own table, after this one)."""
    from pydantic import BaseModel

    heads = " | ".join(columns)
    rows = [f"| parameter | type | {heads} | what it does |", "|---" * (len(columns) + 3) + "|"]
    nested = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested.append((name, annotation))
            continue
        values = " | ".join(shown(values.get(name)) for values in columns.values())
        doc = prose(field.description)
        rows.append(f"| `{path}.{name}` | {field_type(field)} | {values} | {doc} |")
    lines = [*rows, ""]
    for name, sub in nested:
        lines += [f"### `{path}.{name}`", "", prose(sub.__doc__), ""]
        sub_columns = {k: (v.get(name) or {}) for k, v in columns.items()}
        lines += fields_table(sub, f"{path}.{name}", sub_columns)
    return lines


def parameters() -> str:
    import yaml

    from lift.config.lift import PRESETS, GroupingSettings, LiftSettings, ModelSettings
    from lift.data.acquisition import (
        FileSource,
        OpenMLSource,
        RdatasetsSource,
        SklearnSource,
        SyntheticSource,
    )
    from lift.data.entry import DatasetEntry
    from lift.data.synthetic import ExtrapolationSettings

    tasks = {
        "classification": LiftSettings.defaults("classification").to_json(),
        "regression": LiftSettings.defaults("regression").to_json(),
    }
    lines = ["## `<task>.lift`: LIFT's settings", "", prose(LiftSettings.__doc__), ""]
    lines += fields_table(LiftSettings, "<task>.lift", tasks)
    lines += [
        "### The `paper` preset",
        "",
        'What `--env paper` and `preset="paper"` change in the defaults above, by task:',
        "",
        "```yaml",
        yaml.safe_dump(PRESETS["paper"], sort_keys=False).rstrip(),
        "```",
        "",
    ]
    entry_fields = {
        k: v.default if not v.is_required() else None
        for k, v in DatasetEntry.model_fields.items()
        if k not in ("lift", *DatasetEntry.given_fields)
    }
    lines += ["## `<task>.datasets.<name>`: a dataset", "", prose(DatasetEntry.__doc__)]
    lines += ["", *_flat_table(DatasetEntry, "<task>.datasets.<name>", entry_fields), ""]
    lines += ["Its `source`, by `kind`:", ""]
    for source in (SklearnSource, SyntheticSource, OpenMLSource, RdatasetsSource, FileSource):
        kind = typing.get_args(source.model_fields["kind"].annotation)[0]
        lines += [f"- `{kind}`: {prose(source.__doc__)}"]
    for title, model in (
        ("`<task>.fine_tuning`: how adapters are grouped", GroupingSettings),
        ("`lift.model`: the base model", ModelSettings),
        ("`regression.extrapolation`: the grid beyond the training domain", ExtrapolationSettings),
    ):
        path = title.split("`")[1]
        defaults = model().to_json()
        lines += ["", f"## {title}", "", prose(model.__doc__), ""]
        lines += _flat_table(model, path, defaults)
    return "\n".join(lines)


def _flat_table(model: type, path: str, defaults: dict[str, Any]) -> list[str]:
    rows = ["| parameter | type | default | what it does |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if name not in defaults:
            continue
        default = "required" if field.is_required() else shown(defaults[name])
        doc = prose(field.description)
        rows.append(f"| `{path}.{name}` | {field_type(field)} | {default} | {doc} |")
    return rows


# --- the default run's metrics -----------------------------------------------------------


def default_run_metrics() -> str:
    record = json.loads((ROOT / "docs/performance.json").read_text())
    run = record["default_run"]
    shown_models = {"majority", "logistic_regression", "svm", "random_forest", "xgboost", "mlp"}
    rows = [
        "| dataset | model | accuracy % | macro-F1 | log-loss | ECE | paper accuracy % |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in run["metrics"]:
        if row["model"] not in shown_models | {"lift"}:
            continue
        paper = row.get("paper_accuracy")
        paper = f"{100 * paper:.2f}" if isinstance(paper, float) and paper == paper else ""
        model = f"**{row['model']}**" if row["model"] == "lift" else row["model"]
        rows.append(
            f"| {row['dataset']} | {model} | {100 * row['accuracy']:.2f} | {row['f1_macro']:.3f} "
            f"| {row['log_loss']:.3f} | {row['ece']:.3f} | {paper} |"
        )
    return "\n".join(rows)


# --- the training-recipe study -----------------------------------------------------------

RECIPE_STUDY = ROOT / "docs/results/recipe-study.jsonl"


def recipe_study(
    recipes: list[str], tables: list[str] | None = None, path: Path = RECIPE_STUDY
) -> str:
    """The test scores of ``recipes`` in the study's results (``path``, one fine-tuning a
    line) on ``tables`` (``None``: every table one of them ran), a table a row: each recipe's
    mean over its repeats (accuracy in %, or RAE) with the repeats in brackets, the best of
    the row in bold; then, over the tables that every recipe ran, the mean accuracy (of two or
    more) and each recipe's mean seconds a fit."""
    runs: dict[tuple[str, str], list[dict]] = {}
    for line in path.read_text().splitlines():
        run = json.loads(line)
        if run["recipe"] in recipes and (tables is None or run["table"] in tables):
            runs.setdefault((run["table"], run["recipe"]), []).append(run)
    unknown = [r for r in recipes if not any(recipe == r for _, recipe in runs)]
    if unknown:
        raise ValueError(f"recipes {unknown} are not in {path.name}")
    tables = tables or list(dict.fromkeys(table for table, _ in runs))

    def score(run: dict) -> float:
        return 100 * run["test_accuracy"] if "test_accuracy" in run else run["test_rae"]

    def mean(table: str, recipe: str) -> float | None:
        done = runs.get((table, recipe))
        return sum(map(score, done)) / len(done) if done else None

    rows = [f"| table | {' | '.join(recipes)} |", "|---" * (len(recipes) + 1) + "|"]
    lower_is_better: dict[str, bool] = {}
    for table in tables:
        means = [mean(table, recipe) for recipe in recipes]
        ran = [m for m in means if m is not None]
        if not ran:
            continue
        lower = any("test_rae" in run for r in recipes for run in runs.get((table, r), []))
        lower_is_better[table] = lower
        best = min(ran) if lower else max(ran)
        cells = []
        for recipe, value in zip(recipes, means, strict=True):
            if value is None:
                cells.append("not run")
                continue
            shown_value = f"{value:.3f}" if lower else f"{value:.2f}"
            shown_value = f"**{shown_value}**" if value == best and len(ran) > 1 else shown_value
            each = [score(run) for run in sorted(runs[table, recipe], key=lambda r: r["repeat"])]
            cells.append(
                shown_value + (f" ({', '.join(f'{e:.1f}' for e in each)})" if len(each) > 1 else "")
            )
        rows.append(f"| {table} | {' | '.join(cells)} |")
    common = [t for t in tables if all((t, r) in runs for r in recipes)]
    if not common:
        return "\n".join(rows)
    accuracies = [t for t in common if not lower_is_better[t]]
    if len(accuracies) > 1:
        means = [sum(mean(t, r) for t in accuracies) / len(accuracies) for r in recipes]
        shown_means = " | ".join(f"{m:.2f}" for m in means)
        rows.append(f"| mean of {', '.join(accuracies)} | {shown_means} |")
    which = ", ".join(common)
    seconds = []
    for recipe in recipes:
        fits = [run["fit_seconds"] for t in common for run in runs[t, recipe]]
        seconds.append(f"{sum(fits) / len(fits):.0f}")
    rows.append(f"| seconds a fit (mean of {which}) | {' | '.join(seconds)} |")
    return "\n".join(rows)


# --- how the epoch is chosen -------------------------------------------------------------

EPOCH_CHOICE = ROOT / "docs/results/epoch-choice.jsonl"


def epoch_choice(path: Path = EPOCH_CHOICE, averaged: bool = False) -> str:
    """``benchmarks/epoch_choice.py``'s table of the fits in ``path``: the ways of choosing
    the epoch, or (``averaged``) each table's repeats averaged."""
    module = _benchmark("epoch_choice")
    fits = module.fits_in(path)
    return module.repeats_averaged(fits) if averaged else module.table(fits)


def _benchmark(name: str) -> types.ModuleType:
    """The script ``benchmarks/<name>.py`` as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / f"benchmarks/{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
