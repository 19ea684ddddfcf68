"""The LIFT model of either task, as ``baselines`` is the classical ones: ``fine_tune`` one
LoRA adapter per repeat on the training prompts (choosing the epoch on the validation prompts),
then ``predict`` the test prompts: score each class's completion (``generation.mode: score``,
classification) or generate text and read it back (``generate``). The task (``lift.tasks``)
says how answers are read and which validation metric chooses the epoch; everything else is
shared. The settings (``lift.lift_settings.LiftSettings``) come validated."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from lift.encoding import Encodings
from lift.fine_tuning import TrainedAdapter, train_adapter
from lift.language_model import (
    BaseModel,
    autocast,
    compute_dtype,
    configure_threads,
    load_model,
    select_device,
)
from lift.lift_settings import LiftSettings, reject_score_without_classes
from lift.metrics import probability_columns
from lift.prediction import generate, score_completions
from lift.splits import of_split
from lift.tasks import Answers, Task

logger = logging.getLogger(__name__)


def _answer_budget(
    tokenizer: Any, completions: Sequence[str], task: Task, settings: LiftSettings
) -> int:
    if settings.generation.max_new_tokens:
        return settings.generation.max_new_tokens
    lengths = tokenizer(sorted(set(completions)), add_special_tokens=False).input_ids
    return max(map(len, lengths)) + task.answer_margin


def load_base(base: BaseModel, settings: LiftSettings) -> tuple[Any, Any]:
    """A fresh copy of the base model, on the settings' device and in their dtype, and its
    tokenizer."""
    configure_threads()
    device = select_device(settings.device)
    return load_model(base, device, compute_dtype(device, settings.dtype))


def precision(settings: LiftSettings) -> Any:
    """The mixed-precision context the settings ask for (``language_model.autocast``)."""
    return autocast(select_device(settings.device), settings.dtype)


def answer(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    completions: Sequence[str],
    task: Task,
    train_targets: np.ndarray,
    settings: LiftSettings,
    description: str | None = None,
) -> Answers:
    """The model's answers to ``prompts``, read as the task's predictions. ``completions`` (of
    the training rows, say) size the generation budget; ``train_targets`` give regression's
    fallback, the training mean."""
    generation = settings.generation
    if generation.mode == "score":
        scores = score_completions(
            model, tokenizer, list(prompts), task.completions, generation.batch_size, description
        )
        return task.read_scores(scores)
    samples = generate(
        model,
        tokenizer,
        list(prompts),
        _answer_budget(tokenizer, completions, task, settings),
        generation.batch_size,
        description,
        samples=generation.samples,
        temperature=generation.temperature,
        seed=settings.training.seed,
    )
    return task.read(samples, train_targets)


def _validator(
    tokenizer: Any,
    validation: pd.DataFrame,
    train: pd.DataFrame,
    task: Task,
    settings: LiftSettings,
) -> Callable[[Any], dict[str, float]]:
    """The task's validation metrics of a model's answers on the validation prompts."""
    truth, train_targets = validation["target"].to_numpy(), train["target"].to_numpy()

    def validate(model: Any) -> dict[str, float]:
        answers = answer(
            model,
            tokenizer,
            validation["prompt"],
            train["completion"],
            task,
            train_targets,
            settings,
        )
        return task.validation_metrics(truth, answers.predictions, answers.valid)

    return validate


def for_repeat(task: Task, encodings: Encodings | None, repeat: int) -> Task:
    """``task`` reading answers written with ``repeat``'s encoding (if any)."""
    return task.written_with(encodings.of(int(repeat))) if encodings else task


def fine_tune(
    dataset: str,
    base: BaseModel,
    prompts: pd.DataFrame,
    task: Task,
    settings: LiftSettings,
    encodings: Encodings | None = None,
) -> dict[int, TrainedAdapter]:
    """One adapter per repeat of ``prompts``, trained on its train rows and chosen on its
    validation rows (``encodings``: the ones the prompts were written with)."""
    reject_score_without_classes(settings, task.name, f"Dataset '{dataset}': parameter `lift.")
    adapters = {}
    for repeat in sorted(prompts["repeat"].unique()):
        repeat_task = for_repeat(task, encodings, repeat)
        train = of_split(prompts, repeat, "train")
        validation = of_split(prompts, repeat, "validation")
        model, tokenizer = load_base(base, settings)
        with precision(settings):
            adapter = train_adapter(
                model,
                tokenizer,
                (train["prompt"].tolist(), train["completion"].tolist()),
                (validation["prompt"].tolist(), validation["completion"].tolist()),
                _validator(tokenizer, validation, train, repeat_task, settings),
                settings.lora,
                settings.training,
                select_on=task.select_on,
                maximize=task.maximize,
                description=f"{dataset} repeat {repeat}",
            )
        best = adapter.history[adapter.best_epoch - 1]
        logger.info(
            "LIFT %s repeat %d: epoch %d kept (validation %s %.4g, loss %.4f)",
            dataset,
            repeat,
            adapter.best_epoch,
            task.select_on,
            best[f"validation_{task.select_on}"],
            best["validation_loss"],
        )
        adapters[int(repeat)] = adapter
        del model
    return adapters


def answer_prompts(
    base: BaseModel,
    adapter: TrainedAdapter,
    prompts: Sequence[str],
    train: pd.DataFrame,
    task: Task,
    settings: LiftSettings,
    description: str | None = None,
) -> Answers:
    """``answer`` with the base model and ``adapter`` merged into its weights (as fast as
    the base model); ``train`` is the adapter's training prompts (their completions and
    targets)."""
    model, tokenizer = load_base(base, settings)
    try:
        with precision(settings):
            return answer(
                adapter.attach(model).merge_and_unload(),
                tokenizer,
                prompts,
                train["completion"],
                task,
                train["target"].to_numpy(),
                settings,
                description,
            )
    finally:
        del model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def predict(
    dataset: str,
    base: BaseModel,
    adapters: dict[int, TrainedAdapter],
    prompts: pd.DataFrame,
    task: Task,
    settings: LiftSettings,
    encodings: Encodings | None = None,
) -> pd.DataFrame:
    """Test predictions of every repeat's adapter: ``model, repeat, row, y_true, y_pred,
    output, valid`` and, for classes, ``proba_<k>`` (``y_pred`` is -1 for an invalid
    classification answer and the training mean for an invalid regression answer; numbers in
    the target's units, read back with ``encodings``)."""
    reject_score_without_classes(settings, task.name, f"Dataset '{dataset}': parameter `lift.")
    parts = []
    for repeat, adapter in sorted(adapters.items()):
        test = of_split(prompts, repeat, "test")
        answers = answer_prompts(
            base,
            adapter,
            test["prompt"],
            of_split(prompts, repeat, "train"),
            for_repeat(task, encodings, repeat),
            settings,
            description=f"{dataset} repeat {repeat}: predict",
        )
        parts.append(
            pd.DataFrame(
                {
                    "model": "lift",
                    "repeat": int(repeat),
                    "row": test["row"].to_numpy(),
                    "y_true": test["target"].to_numpy(),
                    "y_pred": answers.predictions,
                    "output": answers.texts,
                    "valid": answers.valid,
                    **probability_columns(answers.probabilities),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)
