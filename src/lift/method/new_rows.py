"""LIFT's answers for new rows of a table it was trained on: the rows checked against the
training table's schema, written as that run's prompts were (its encoding) and answered by one
of its adapters.

Columns are matched by name, never by position. A feature the model was trained with must be
there, without missing values, numbers where it had numbers; columns the model never read (an
identifier, the target, columns the training dropped) are passed through to the predictions
as they are. A category the training table never had is written as it is (the language model
reads any text) and listed in ``unseen_values``, so that such rows can be told apart."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from lift.config.errors import DatasetInputError
from lift.config.lift import LiftSettings
from lift.data.preprocessing import is_numeric, missing_values, task_of
from lift.evaluation.metrics import classification_scores, regression_scores
from lift.method import learner
from lift.method.encoding import Encodings
from lift.method.fine_tuning import TrainedAdapter
from lift.method.language_model import BaseModel
from lift.method.tasks import task_for

logger = logging.getLogger(__name__)

UNSEEN = "unseen_values"
PREDICTED, PROBABILITY = "predicted_{}", "probability_{}"  # of the target, of a class


def answer_columns(schema: Mapping[str, Any]) -> list[str]:
    """The columns ``predict_new_rows`` adds: the prediction, the answer and whether it was
    valid, the class probabilities, unseen values and the adapter's repeat."""
    classes = [PROBABILITY.format(c) for c in schema.get("classes") or []]
    target = PREDICTED.format(schema["target"])
    return [target, "answer", "answer_valid", *classes, UNSEEN, "repeat"]


def check_new_rows(
    dataset: str, new_rows: pd.DataFrame, schema: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.Series]:
    """The model's features of ``new_rows`` (in the schema's order, categories as text) and,
    per row, the categorical values the training table never had (``"column=value"``, joined
    by ``; ``). Raises ``DatasetInputError`` naming the dataset and columns for no rows, a
    missing feature, missing values, text in a numeric feature, or a column name the
    predictions would take."""
    new_rows = new_rows.rename(columns=str)
    where = f"New rows of dataset '{dataset}'"
    if new_rows.empty:
        raise DatasetInputError(f"{where}: the table has no rows.")
    features = list(schema["features"])
    absent = [c for c in features if c not in new_rows.columns]
    if absent:
        raise DatasetInputError(
            f"{where} lack the feature columns {absent} that the model was trained with. Their "
            f"columns are {list(new_rows.columns)}; columns are matched by name, so add (or "
            "rename) these."
        )
    taken = [c for c in answer_columns(schema) if c in new_rows.columns]
    if taken:
        raise DatasetInputError(
            f"{where} have columns named {taken}, which the predictions add; rename them."
        )
    rows = new_rows[features].copy()
    for column in features:
        missing = missing_values(rows[column])
        if missing.any():
            positions = np.flatnonzero(missing).tolist()
            shown = ", ".join(map(str, positions[:5])) + (", ..." if len(positions) > 5 else "")
            raise DatasetInputError(
                f"{where}: feature column '{column}' has {len(positions)} missing or infinite "
                f"values (rows {shown}, counted from 0). The model was trained on rows without "
                "them; fill them in or leave those rows out."
            )
    for column in schema["numeric_features"]:
        if not is_numeric(rows[column]):
            numbers = pd.to_numeric(rows[column], errors="coerce")
            if numbers.isna().any():
                examples = rows[column][numbers.isna()].astype(str).unique()[:3].tolist()
                raise DatasetInputError(
                    f"{where}: feature column '{column}' was numeric in training and holds "
                    f"{examples} here. Write numbers in it."
                )
            rows[column] = numbers
    categories = schema.get("categories") or {}
    unseen = pd.Series("", index=rows.index)
    for column in schema["categorical_features"]:
        rows[column] = rows[column].astype(str)
        known = categories.get(column)
        if known is None:  # a schema of a run before categories were kept
            continue
        new = ~rows[column].isin(known)
        if new.any():
            logger.warning(
                "%s: column '%s' holds values the training table never had (%s) in %d rows; "
                "the model reads them as text, see column `%s`",
                where,
                column,
                sorted(rows.loc[new, column].unique())[:5],
                int(new.sum()),
                UNSEEN,
            )
            found = f"{column}=" + rows.loc[new, column]
            unseen[new] = np.where(unseen[new] == "", found, unseen[new] + "; " + found)
    return rows.reset_index(drop=True), unseen.reset_index(drop=True)


def predict_new_rows(
    dataset: str,
    new_rows: pd.DataFrame,
    schema: Mapping[str, Any],
    base: BaseModel,
    adapters: Mapping[int, TrainedAdapter],
    repeat: int,
    prompts: pd.DataFrame,
    settings: LiftSettings,
    encodings: Encodings | None = None,
    loaded: tuple[Any, Any] | None = None,
) -> pd.DataFrame:
    """``new_rows`` as given with LIFT's answers of repeat ``repeat``'s adapter beside them
    (``answer_columns``): the predicted class (as the table names it) or number, the answer's
    text and whether it parsed, each class's probability. ``prompts`` are the run's (the
    adapter's training completions size the answers; an invalid regression answer is the
    training mean). Where the rows carry the target, the score on them is logged.
    ``loaded``: the base model with that adapter merged (``learner.merged``) and its
    tokenizer, where the caller keeps them for many calls (a served model)."""
    if repeat not in adapters:
        raise DatasetInputError(
            f"Dataset '{dataset}': parameter `predict.repeat` is {repeat}, but the run trained "
            f"adapters for repeats {sorted(adapters)}; choose one of them."
        )
    features, unseen = check_new_rows(dataset, new_rows, schema)
    task = task_for(schema, settings.serialization)
    answers = learner.answer_rows(
        dataset,
        base,
        adapters[repeat],
        repeat,
        features,
        schema,
        prompts,
        task,
        settings,
        encodings,
        description="predict new rows",
        loaded=loaded,
    )
    target, classes = schema["target"], schema.get("classes")
    predicted: Any = answers.predictions
    if classes is not None:
        named = np.array(classes, dtype=object)
        predicted = np.where(answers.valid, named[np.maximum(predicted, 0)], None)
    added = {
        PREDICTED.format(target): predicted,
        "answer": answers.texts,
        "answer_valid": answers.valid,
        **(
            {PROBABILITY.format(c): answers.probabilities[:, k] for k, c in enumerate(classes)}
            if classes is not None and answers.probabilities is not None
            else {}
        ),
        UNSEEN: unseen.to_numpy(),
        "repeat": repeat,
    }
    result = new_rows.reset_index(drop=True).assign(**added)
    logger.info(
        "LIFT %s: %d new rows answered by repeat %d's adapter (%d answers valid)",
        dataset,
        len(result),
        repeat,
        int(np.sum(answers.valid)),
    )
    if target in new_rows.columns:
        _log_score(dataset, new_rows[target].reset_index(drop=True), answers, schema)
    return result


def _log_score(dataset: str, truth: pd.Series, answers: Any, schema: Mapping[str, Any]) -> None:
    """The score on new rows that carry the target (those with a value)."""
    known = ~truth.isna().to_numpy()
    if not known.any():
        return
    if task_of(schema) == "classification":
        label_of = {str(c): k for k, c in enumerate(schema["classes"])}
        labels = truth[known].astype(str).map(label_of).fillna(-1).astype(int).to_numpy()
        scores = classification_scores(labels, answers.predictions[known])
        what = f"accuracy {100 * scores['accuracy']:.4g} %"
    else:
        scores = regression_scores(
            pd.to_numeric(truth[known]).to_numpy(),
            answers.predictions[known],
            answers.valid[known],
        )
        what = f"RAE {scores['rae']:.4g}, RMSE {scores['rmse']:.4g}"
    logger.info("LIFT %s: on the %d new rows with a target: %s", dataset, known.sum(), what)
