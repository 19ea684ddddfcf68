"""Thin nodes of the study pipelines (``lift.studies.designs``, ``lift.data.variants``,
``lift.studies.figures``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.pipeline import Pipeline as SklearnPipeline

from lift.data import images, synthetic, variants
from lift.data.entry import DatasetEntry
from lift.data.splits import rows_of
from lift.evaluation import baselines, metrics
from lift.evaluation.published import StudyFigures
from lift.method import in_context, learner, two_stage
from lift.method.encoding import Encodings
from lift.method.fine_tuning import TrainedAdapter
from lift.method.language_model import BaseModel
from lift.method.tasks import task_for
from lift.studies import figures
from lift.studies.designs import (
    Variant,
    changed,
    study_results,
    variant_scores,
    with_sample_means,
)

TRAINING_POINTS = "training points"  # the rows of the boundaries table that are not answers
ATTACK_SOURCE = "lenet (attack source)"  # the network the transferred attacks come from


def vary(
    table: pd.DataFrame,
    schema: dict[str, Any],
    row_splits: pd.DataFrame,
    attacker: images.Attacker | None = None,
    *,
    dataset: str,
    variant: Variant,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The variant's table and splits: fewer training rows, other labels, or perturbed test
    images (on the scale and by the gradients of ``attacker``)."""
    return changed(dataset, variant, table, schema, row_splits, attacker)


def fit_attacker(
    table: pd.DataFrame,
    schema: dict[str, Any],
    row_splits: pd.DataFrame,
    settings: DatasetEntry,
    *,
    epochs: int,
    seed: int,
) -> images.Attacker:
    """The network the transferred attacks come from, trained on the held-in images (the
    same in every repeat)."""
    rows = variants.held_in_rows(row_splits)
    pixels = images.check_pixels(settings.name, table, schema["features"])[rows]
    labels = table[schema["target"]].to_numpy(int)[rows]
    image = settings.lift.serialization.image
    return images.fit_attacker(
        settings.name, pixels, labels, len(schema["classes"]), image, epochs, seed
    )


def predict_attacker(
    attacker: images.Attacker,
    table: pd.DataFrame,
    schema: dict[str, Any],
    row_splits: pd.DataFrame,
) -> pd.DataFrame:
    """The attacker network's answers to the test images of every repeat, as a baseline's
    (model ``lenet (attack source)``)."""
    repeats = sorted(int(r) for r in row_splits["repeat"].unique())
    fitted = {repeat: {ATTACK_SOURCE: attacker} for repeat in repeats}
    return baselines.predict_baselines(fitted, table, schema, row_splits)


def image_examples(
    attacker: images.Attacker,
    table: pd.DataFrame,
    schema: dict[str, Any],
    row_splits: pd.DataFrame,
    settings: DatasetEntry,
    *,
    variant: Variant,
    count: int = 3,
) -> pd.DataFrame:
    """The first ``count`` test images of the variant as the figure shows them, on the
    attacker's 0-1 scale: ``dataset, variant, facet, level, label, height, y_true, pixels``
    (the pixels of each, row by row)."""
    rows = rows_of(row_splits, int(row_splits["repeat"].min()), "test")[:count]
    pixels = images.check_pixels(settings.name, table, schema["features"])[rows]
    return pd.DataFrame(
        {
            "dataset": settings.name,
            "variant": variant.name,
            "facet": variant.facet,
            "level": float(variant.level),
            "label": variant.label,
            "height": attacker.shape[0],
            "y_true": table[schema["target"]].to_numpy(int)[rows],
            "pixels": [list(image.ravel()) for image in attacker.scaled(pixels)],
        }
    )


def score(
    row_splits: pd.DataFrame,
    schema: dict[str, Any],
    *predictions: pd.DataFrame,
    dataset: str,
    task: str,
    variant: Variant,
    per_class: bool = False,
) -> pd.DataFrame:
    """Every model's test scores per repeat on the variant, named by it (and each class's
    precision, recall and F1 with ``per_class``; the mean of sampled numbers scored as a model
    of its own)."""
    scores = metrics.score_predictions(
        dataset,
        with_sample_means(pd.concat(predictions, ignore_index=True)),
        row_splits,
        task,
        len(schema["classes"]) if per_class else 0,
    )
    scores = variant_scores(scores, task, variant)
    shown = [p for p in predictions if "demonstrations" in p]
    if shown:  # in context: how many training rows each prompt showed
        counts = pd.concat(shown).groupby(["model", "repeat"], as_index=False)["demonstrations"]
        scores = scores.merge(counts.first(), on=["model", "repeat"], how="left")
    return scores


def pretext_table(
    table: pd.DataFrame,
    schema: dict[str, Any],
    row_splits: pd.DataFrame,
    settings: DatasetEntry,
    *,
    rows: int,
    tasks: int,
    seed: int,
) -> pd.DataFrame:
    """Synthetic pretext tasks of the table's shape (features, classes or ranges)."""
    return two_stage.pretext_table(settings.name, table, schema, row_splits, rows, tasks, seed)


def first_stage(
    pretext: pd.DataFrame,
    schema: dict[str, Any],
    base_model: dict[str, Any],
    settings: DatasetEntry,
    *,
    rounds: int,
) -> dict[int, TrainedAdapter]:
    """The adapter fine-tuned on the pretext tasks in turn (as ``{0: adapter}``)."""
    lift = settings.lift
    task = task_for(schema, lift.serialization)
    base = BaseModel.from_dict(base_model)
    return {0: two_stage.first_stage(settings.name, base, pretext, schema, task, lift, rounds)}


def gibberish(*, rows: int, words: int, seed: int) -> pd.DataFrame:
    """Gibberish text: prompts and completions of made-up words."""
    return synthetic.gibberish(rows, words, seed)


def gibberish_stage(
    text: pd.DataFrame, base_model: dict[str, Any], settings: DatasetEntry
) -> dict[int, TrainedAdapter]:
    """The adapter fine-tuned on gibberish text with the table's LoRA shape (as
    ``{0: adapter}``)."""
    base = BaseModel.from_dict(base_model)
    return {0: two_stage.gibberish_stage(settings.name, base, text, settings.lift)}


def predict_in_context(
    prompts: pd.DataFrame,
    schema: dict[str, Any],
    base_model: dict[str, Any],
    encoding: Encodings,
    settings: DatasetEntry,
) -> pd.DataFrame:
    """The base model's test answers with the training rows as demonstrations in the prompt
    (scored and generated), and how many fitted."""
    lift = settings.lift
    return in_context.predict_in_context(
        settings.name,
        BaseModel.from_dict(base_model),
        prompts,
        task_for(schema, lift.serialization),
        lift,
        encoding,
    )


def report(
    *parts: pd.DataFrame,
    study: str,
    published: StudyFigures,
    compared: dict[str, str],
    tables: int,
) -> tuple[pd.DataFrame, Figure]:
    """The study's results (one row per table, variant, model and repeat, from the scores of
    the first ``tables`` parts; the paper's figures on each task's ``compared`` metric) and
    its figure (decision boundaries: from the grid answers of the rest; uncertainty: with the
    calibration bins of the rest)."""
    results = study_results(parts[:tables], published, compared)
    drawn = pd.concat(parts[tables:], ignore_index=True) if len(parts) > tables else None
    if study == "uncertainty":
        return results, figures.uncertainty_figure(results, drawn)
    if study == "image_robustness":
        return results, figures.image_robustness_figure(results, drawn)
    if drawn is None:
        return results, figures.figure_of(study, results, compared)
    is_point = drawn["model"] == TRAINING_POINTS
    points = drawn[is_point].rename(columns={"y_pred": "label"})
    return results, figures.boundary_figure(drawn[~is_point], points)


def reliability(lift_predictions: pd.DataFrame, *, dataset: str) -> pd.DataFrame:
    """The calibration bins of each of LIFT's ways of answering (sampled votes, greedy,
    scored) on the test rows of every repeat: ``dataset, model, confidence, accuracy, rows``."""
    return metrics.reliability(lift_predictions).assign(dataset=dataset)


def grid(
    table: pd.DataFrame, schema: dict[str, Any], settings: DatasetEntry, *, points: int,
    margin: float,
) -> pd.DataFrame:  # fmt: skip
    """The grid over the table's two features where every model answers."""
    return variants.feature_grid(settings.name, table, schema["features"], points, margin)


def predict_grid(
    feature_grid: pd.DataFrame,
    table: pd.DataFrame,
    schema: dict[str, Any],
    row_splits: pd.DataFrame,
    baseline_models: dict[int, dict[str, SklearnPipeline]],
    trained: dict[int, TrainedAdapter],
    prompts: pd.DataFrame,
    base_model: dict[str, Any],
    encoding: Encodings,
    settings: DatasetEntry,
) -> pd.DataFrame:
    """The first repeat's answers of every model over the grid, and its training points
    (model ``training points``, their label as ``y_pred``): ``dataset, model, x, y,
    y_pred``."""
    dataset, lift = settings.name, settings.lift
    repeat = min(trained)
    first, second = schema["features"]
    answers = learner.answer_rows(
        dataset,
        BaseModel.from_dict(base_model),
        trained[repeat],
        repeat,
        feature_grid,
        schema,
        prompts,
        task_for(schema, lift.serialization),
        lift,
        encoding,
        description="decision regions",
    )
    answered = {learner.LIFT: answers.predictions}
    for name, model in baseline_models[repeat].items():
        answered[name] = model.predict(feature_grid[[first, second]])
    train = table.iloc[rows_of(row_splits, repeat, "train")]
    parts = [
        pd.DataFrame(
            {
                "dataset": dataset,
                "model": TRAINING_POINTS,
                "x": train[first].to_numpy(float),
                "y": train[second].to_numpy(float),
                "y_pred": train[schema["target"]].to_numpy(int),
            }
        ),
        *(
            pd.DataFrame(
                {
                    "dataset": dataset,
                    "model": name,
                    "x": feature_grid[first].to_numpy(float),
                    "y": feature_grid[second].to_numpy(float),
                    "y_pred": np.asarray(values).astype(int),
                }
            )
            for name, values in answered.items()
        ),
    ]
    return pd.concat(parts, ignore_index=True)
