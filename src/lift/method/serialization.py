"""Rows as sentences (the LIFT paper, arXiv:2206.06565).

``paper``, classification: ``When we have x1=5.10, x2=3.50, What is this type?###`` -> `` 0@@@``
``paper``, regression: ``When we have x1=-3.1416, what should be the y value?###`` -> `` 2.718@@@``
``feature_names``: ``Given that sepal length (cm) is 5.10, ..., What is the category?###``
(regression: ``..., what should be the <target> value?###``).
``sentences``: ``The sepal length (cm) is 5.10. ... What is the category?###``.
``own``: the dataset's own ``sentence`` with each feature written in as ``{column}``.
``image``: ``Given image with pixels 0 0 12 ... What is this digit?###``, the features being
the pixels of an image (``lift.data.images``; ``image`` settings: crop, down-sampling, intensity
levels, a fixed permutation).
``names: shuffled`` writes each value under another column's name (a control).
A classification completion is the integer class index, a regression one the target written
with ``target_decimals`` decimals; training appends the tokenizer's EOS to it. How numbers are
written beyond the paper's fixed decimals (significant digits, scales fitted on the training
rows) is ``lift.method.encoding``."""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lift.config.errors import DatasetInputError
from lift.config.lift import COMPLETION_SUFFIX, PROMPT_SUFFIX, SerializationSettings
from lift.data import images
from lift.data.preprocessing import task_of
from lift.method.encoding import Encodings, fit_encodings

logger = logging.getLogger(__name__)

QUESTIONS = {
    "paper": {"classification": "What is this type?", "regression": "what should be the y value?"},
    "feature_names": {
        "classification": "What is the category?",
        "regression": "what should be the {target} value?",
    },
    "sentences": {
        "classification": "What is the category?",
        "regression": "What is the {target}?",
    },
}
TEMPLATES = (*QUESTIONS, "own", "image")

# Each template's own punctuation, and what a value or name writes instead of it so that it
# cannot fake the template's structure (another feature, the end of a sentence)
STRUCTURE = {
    "paper": {"=": ":", ", ": "; "},
    "feature_names": {", ": "; "},
    "sentences": {". ": "; "},
    "own": {},
}
CONTROL = re.compile(r"[\r\n\t\v\f\x00-\x08\x0b-\x1f\x7f\u2028\u2029]+")


def safe_text(text: str, separators: Sequence[str], structure: Mapping[str, str]) -> str:
    """``text`` (a value or a column name: untrusted input) as a prompt may hold it: line breaks
    and control characters as one space, the template's punctuation replaced (``structure``),
    and every separator (the prompt and completion suffixes) broken into spaced characters
    (``###`` -> ``# # #``) until none is left, so that no value can end a prompt early or write
    an answer into it. The same text always gives the same result: training and prediction
    write it alike."""
    text = CONTROL.sub(" ", text)
    for _ in range(len(text) + 2):
        before = text
        for old, new in structure.items():
            text = text.replace(old, new)
        for sep in separators:
            if sep and sep in text:
                text = text.replace(sep, " ".join(sep) if len(sep) > 1 else " ")
        if text == before:
            return text
    reserved = [sep for sep in [*separators, *structure] if sep]
    while any(sep in text for sep in reserved):  # what its own replacement brings back: removed
        for sep in reserved:
            text = text.replace(sep, "")
    return text


def _value(value: Any, decimals: int) -> str:
    if isinstance(value, str):
        return value
    return f"{float(value):.{decimals}f}"


def _ended(said: str, separators: Sequence[str]) -> str:
    """``said`` (a prompt without its suffix, ``separators[0]``) made safe as a whole (a value
    and the text beside it can join into a separator: ``##`` + ``#``) and ended with the
    suffix, a space between them where its end would otherwise form the suffix early."""
    prompt_suffix = separators[0]
    said = safe_text(said, separators, {})
    if prompt_suffix and (said + prompt_suffix).find(prompt_suffix) != len(said):
        said += " "
    return said + prompt_suffix


def sentence_parts(sentence: str) -> list[tuple[str, str | None]]:
    """An `own` template's ``sentence`` as (literal text, the column written after it or None)
    pairs: each feature as ``{column}`` (any name, dots and brackets included), ``{{`` and
    ``}}`` for braces; a conversion or a format spec is refused: numbers are written by the
    number encoding."""
    try:
        fields = list(string.Formatter().parse(sentence))
    except ValueError as error:
        raise DatasetInputError(
            f"Parameter `lift.serialization.sentence` {sentence!r} cannot be read ({error}); "
            "write each feature as {column} and a literal brace as {{ or }}."
        ) from None
    for _, name, spec, conversion in fields:
        if name is not None and (not name or conversion or spec):
            raise DatasetInputError(
                f"Parameter `lift.serialization.sentence` has the field "
                f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"
                "; write each feature as {column}, without a format (numbers are written by "
                "`lift.serialization.encoding`)."
            )
    return [(literal, name) for literal, name, _, _ in fields]


def sentence_columns(sentence: str) -> list[str]:
    """The columns an `own` template's ``sentence`` writes in (``sentence_parts``)."""
    return list(dict.fromkeys(name for _, name in sentence_parts(sentence) if name is not None))


def check_sentence(dataset: str, sentence: str, features: Sequence[str]) -> None:
    """An `own` sentence may write in the table's features only: a column it names that the
    table does not have raises ``DatasetInputError`` naming it; a feature it leaves out is
    logged (the model never reads it)."""
    columns = sentence_columns(sentence)
    unknown = [c for c in columns if c not in features]
    if unknown:
        raise DatasetInputError(
            f"Dataset '{dataset}': `lift.serialization.sentence` writes in "
            f"{', '.join(repr(c) for c in unknown)}, which the table does not have as a "
            f"feature; its features are {list(features)}. Correct the names in the sentence "
            "(or drop the columns you left out of it with `drop_columns`)."
        )
    left_out = [f for f in features if f not in columns]
    if left_out:
        logger.warning(
            "Dataset '%s': the `own` sentence leaves out the features %s; the model never "
            "reads them.",
            dataset,
            left_out,
        )


def shuffled_names(names: Sequence[str], seed: int) -> list[str]:
    """``names`` permuted so that every one moves (for two or more), drawn with ``seed``:
    the control of the feature-names study (each value written under another column's name)."""
    if len(names) < 2:
        return list(names)
    rng = np.random.default_rng(seed)
    while True:  # a random permutation is a derangement about 37 % of the time
        order = rng.permutation(len(names))
        if not np.any(order == np.arange(len(names))):
            return [names[i] for i in order]


def prompt_for(
    values: Sequence[Any],
    names: Sequence[str],
    task: str,
    template: str = "paper",
    decimals: int = 2,
    prompt_suffix: str = PROMPT_SUFFIX,
    target: str = "y",
    sentence: str | None = None,
    completion_suffix: str = COMPLETION_SUFFIX,
) -> str:
    """The prompt of one row: its feature ``values`` (named ``names``) in ``template``, asking
    the question of ``task`` (about column ``target``, in the templates with names); the
    ``own`` template writes the values into ``sentence`` by name. Values and names are
    written with ``safe_text``: the prompt ends with ``prompt_suffix`` and holds it nowhere
    else, nor ``completion_suffix``, nor a line break."""
    if template not in TEMPLATES or template == "image":  # images: ``images.image_prompts``
        raise DatasetInputError(
            f"Parameter `lift.serialization.template` is {template!r}; choose one of "
            f"{[t for t in TEMPLATES if t != 'image']} (a row of pixels: `images`)."
        )
    separators, structure = (prompt_suffix, completion_suffix), STRUCTURE[template]
    written = [safe_text(_value(v, decimals), separators, structure) for v in values]
    if template == "own":
        by_name = dict(zip(names, written, strict=True))
        parts = sentence_parts(sentence or "")
        said = "".join(text + (by_name[name] if name is not None else "") for text, name in parts)
        return _ended(said, separators)
    names = [safe_text(str(n), separators, structure) for n in names]
    question = QUESTIONS[template][task].format(target=target)  # made safe with the rest
    if template == "paper":
        pairs = ", ".join(f"x{i + 1}={v}" for i, v in enumerate(written))
        return _ended(f"When we have {pairs}, {question}", separators)
    if template == "sentences":
        said = " ".join(f"The {n} is {v}." for n, v in zip(names, written, strict=True))
        return _ended(f"{said} {question}", separators)
    pairs = ", ".join(f"{n} is {v}" for n, v in zip(names, written, strict=True))
    return _ended(f"Given that {pairs}, {question}", separators)


def completion_for(
    value: Any,
    task: str,
    target_decimals: int = 3,
    completion_suffix: str = COMPLETION_SUFFIX,
) -> str:
    """The completion of a row whose target is ``value``: a space, the class index (or the
    number with ``target_decimals`` decimals; a text as ``safe_text`` writes it, so that it
    cannot end the answer early), the suffix."""
    if isinstance(value, str):
        return f" {safe_text(value, (completion_suffix,), {})}{completion_suffix}"
    if task == "regression":
        return f" {float(value):.{int(target_decimals)}f}{completion_suffix}"
    return f" {int(value)}{completion_suffix}"


def answer_text(completion: str, completion_suffix: str = COMPLETION_SUFFIX) -> str:
    """What a completion answers: its text without the suffix and the white space around it."""
    return completion.removesuffix(completion_suffix).strip()


def class_names(schema: Mapping[str, Any], settings: SerializationSettings) -> list[str] | None:
    """The names a classification table's (``schema``) completions write its classes by, in
    label order, where ``settings.labels`` asks for names; ``None``: each is written as its
    index. Names that would read alike in an answer, or as nothing, raise
    ``DatasetInputError``."""
    if settings.labels != "names":
        return None
    names = [str(c) for c in schema["classes"]]
    suffix = settings.completion_suffix
    written = [
        answer_text(completion_for(n, "classification", completion_suffix=suffix), suffix)
        for n in names
    ]
    if "" in written or len(set(written)) < len(written):
        raise DatasetInputError(
            f"Target column '{schema['target']}': its classes {names} are written {written} "
            "as answers, and two would read alike (or one as nothing); write the classes as "
            "codes (`lift.serialization.labels: codes`) or rename them."
        )
    return names


def serialize(
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    splits: pd.DataFrame,
    settings: SerializationSettings | None = None,
    encodings: Encodings | None = None,
    dataset: str = "table",
) -> pd.DataFrame:
    """Prompts and completions of every row in every split and repeat (of ``dataset``, as
    errors name it).

    Returns one row per entry of ``splits`` and encoding: ``repeat, split, row, encoding,
    prompt, completion, target`` (``target`` in the table's units). Numbers are written by the
    repeat's encodings (fitted on that repeat's training rows unless ``encodings`` are given;
    ``settings.encoding``; several where a selection chooses among them), text as it is; the
    task (``schema["task"]``) decides the question and the completion.
    """
    settings = settings or SerializationSettings()
    if settings.template == "own":
        check_sentence(dataset, settings.sentence or "", schema["features"])
    if settings.template != "image":
        warn_rewritten(dataset, table, schema["features"], settings)
    encodings = encodings or fit_encodings(table, schema, splits, settings)
    pictured = None
    if settings.template == "image":  # every row's prompt at once: its pixels as an image
        pictured = image_prompts(dataset, table, schema, settings)
    return pd.concat(
        [
            _written(table, schema, splits, settings, encodings, name, pictured)
            for name in encodings.names()
        ],
        ignore_index=True,
    )


def warn_rewritten(
    dataset: str, table: pd.DataFrame, features: Sequence[str], settings: SerializationSettings
) -> None:
    """A warning per feature whose name or text values ``safe_text`` rewrites (they hold a
    separator, a line break or the template's punctuation), with how many values."""
    separators = (settings.prompt_suffix, settings.completion_suffix)
    structure = STRUCTURE[settings.template]
    for column in features:
        values = table[column]
        text = values[values.map(lambda v: isinstance(v, str))].unique()
        changed = sum(safe_text(v, separators, structure) != v for v in text)
        renamed = settings.template != "paper" and (
            safe_text(str(column), separators, structure) != str(column)
        )
        if changed or renamed:
            logger.warning(
                "Dataset '%s': %s of column '%s' hold%s the prompt's separators (%s), a line "
                "break or the template's punctuation (%s): written with them broken up or "
                "replaced, in training and prediction alike, so that no value ends a prompt or "
                "writes an answer into it.",
                dataset,
                f"{changed} distinct value(s)" if changed else "the name",
                column,
                "s" if changed <= 1 else "",
                ", ".join(repr(sep) for sep in separators if sep),
                ", ".join(repr(old) for old in structure) or "none",
            )


def image_prompts(
    dataset: str, table: pd.DataFrame, schema: Mapping[str, Any], settings: SerializationSettings
) -> list[str]:
    """The ``image`` template's prompt of every row of ``table`` (its features the pixels of
    an image, read row by row; ``settings.image`` says how they are written)."""
    pixels = images.check_pixels(dataset, table, schema["features"])
    written = images.written_pixels(dataset, pixels, settings.image)
    return images.image_prompts(written, settings.image.question, settings.prompt_suffix)


def _written(
    table: pd.DataFrame,
    schema: Mapping[str, Any],
    splits: pd.DataFrame,
    settings: SerializationSettings,
    encodings: Encodings,
    name: str,
    pictured: list[str] | None,
) -> pd.DataFrame:
    """``serialize``'s rows of the encoding ``name`` (each row's prompt from ``pictured``
    where the rows are images)."""
    task = task_of(schema)
    features = list(schema["features"])
    values = list(table[features].itertuples(index=False, name=None))
    targets = table[schema["target"]].to_numpy()
    names_of = class_names(schema, settings) if task == "classification" else None
    encoding_of = {int(r): encodings.of(int(r), name) for r in splits["repeat"].unique()}
    # under which name each feature's value is written, in each repeat
    names_in = {r: encoding.names(features) for r, encoding in encoding_of.items()}
    if settings.names == "shuffled":
        names_in = {r: shuffled_names(names, settings.names_seed) for r, names in names_in.items()}
    written: dict[tuple[int, int], tuple[str, str]] = {}
    for repeat, row in zip(splits["repeat"], splits["row"], strict=True):
        if (repeat, row) in written:
            continue
        encoding, names = encoding_of[int(repeat)], names_in[int(repeat)]
        target = (
            encoding.write_target(targets[row])
            if task == "regression"
            else names_of[int(targets[row])]
            if names_of
            else targets[row]
        )
        written[repeat, row] = (
            pictured[row]
            if pictured is not None
            else prompt_for(
                encoding.write_row(features, values[row]),
                names,
                task,
                settings.template,
                settings.decimals,
                settings.prompt_suffix,
                schema["target"],
                settings.sentence,
                settings.completion_suffix,
            ),
            completion_for(target, task, settings.target_decimals, settings.completion_suffix),
        )
    pairs = [written[key] for key in zip(splits["repeat"], splits["row"], strict=True)]
    rows = splits["row"].to_numpy()
    return pd.DataFrame(
        {
            "repeat": splits["repeat"].to_numpy(),
            "split": splits["split"].to_numpy(),
            "row": rows,
            "encoding": name,
            "prompt": [prompt for prompt, _ in pairs],
            "completion": [completion for _, completion in pairs],
            "target": targets[rows] if task == "regression" else targets[rows].astype(int),
        }
    )
