"""LIFT for classification: fine-tune one adapter per repeat on the training prompts (choosing
the epoch on the validation prompts), then generate and parse answers for the test prompts."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from lift.errors import reject_unknown
from lift.fine_tuning import LoraSettings, TrainedAdapter, TrainingSettings, train_adapter
from lift.language_model import (
    BaseModel,
    compute_dtype,
    configure_threads,
    load_model,
    select_device,
)
from lift.parsing import INVALID, parse_label
from lift.prediction import generate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiftSettings:
    """Everything the LIFT branch of a task needs besides the data (``classification.lift``)."""

    lora: LoraSettings
    training: TrainingSettings
    max_new_tokens: int | None = None  # None: the longest completion plus one token
    generation_batch_size: int = 32
    completion_suffix: str = "@@@"
    device: str = "auto"
    dtype: str = "auto"

    @classmethod
    def from_params(cls, params: dict[str, Any] | None) -> LiftSettings:
        """Validate ``classification.lift`` and return it as settings."""
        params = dict(params or {})
        sections = ["device", "dtype", "generation", "lora", "serialization", "training"]
        generation = dict(params.get("generation") or {})
        reject_unknown(
            [*params, *(f"generation.{key}" for key in generation)],
            [*sections, "generation.batch_size", "generation.max_new_tokens"],
            "Parameter `lift` has unknown keys",
        )
        return cls(
            lora=LoraSettings.from_params(params.get("lora")),
            training=TrainingSettings.from_params(params.get("training")),
            max_new_tokens=generation.get("max_new_tokens"),
            generation_batch_size=int(generation.get("batch_size", 32)),
            completion_suffix=(params.get("serialization") or {}).get("completion_suffix", "@@@"),
            device=params.get("device", "auto"),
            dtype=params.get("dtype", "auto"),
        )


def _answer_budget(tokenizer: Any, completions: pd.Series, settings: LiftSettings) -> int:
    if settings.max_new_tokens:
        return int(settings.max_new_tokens)
    lengths = tokenizer(sorted(set(completions)), add_special_tokens=False).input_ids
    return max(map(len, lengths)) + 1  # the completion and its EOS


def _load(base: BaseModel, settings: LiftSettings) -> tuple[Any, Any]:
    configure_threads()
    device = select_device(settings.device)
    return load_model(base, device, compute_dtype(device, settings.dtype))


def answer(
    model: Any,
    tokenizer: Any,
    prompts: pd.DataFrame,
    n_classes: int,
    settings: LiftSettings,
    description: str | None = None,
) -> tuple[list[str], np.ndarray]:
    """Generated text and parsed labels (``INVALID`` where unparsable) for ``prompts``."""
    budget = _answer_budget(tokenizer, prompts["completion"], settings)
    texts = generate(
        model,
        tokenizer,
        prompts["prompt"].tolist(),
        budget,
        settings.generation_batch_size,
        description,
    )
    labels = np.array([parse_label(t, n_classes, settings.completion_suffix) for t in texts])
    return texts, labels


def _validation_scorer(
    tokenizer: Any, validation: pd.DataFrame, n_classes: int, settings: LiftSettings
) -> Callable[[Any], tuple[float, float]]:
    """Accuracy and invalid rate of a model's answers on the validation prompts."""
    truth = validation["label"].to_numpy()

    def score(model: Any) -> tuple[float, float]:
        _, labels = answer(model, tokenizer, validation, n_classes, settings)
        return float(np.mean(labels == truth)), float(np.mean(labels == INVALID))

    return score


def fine_tune(
    dataset: str, base: BaseModel, prompts: pd.DataFrame, n_classes: int, settings: LiftSettings
) -> dict[int, TrainedAdapter]:
    """One adapter per repeat of ``prompts``, trained on its train rows and chosen on its
    validation rows."""
    adapters = {}
    for repeat in sorted(prompts["repeat"].unique()):
        of_repeat = prompts[prompts["repeat"] == repeat]
        train = of_repeat[of_repeat["split"] == "train"]
        validation = of_repeat[of_repeat["split"] == "validation"]
        model, tokenizer = _load(base, settings)

        adapter = train_adapter(
            model,
            tokenizer,
            (train["prompt"].tolist(), train["completion"].tolist()),
            (validation["prompt"].tolist(), validation["completion"].tolist()),
            _validation_scorer(tokenizer, validation, n_classes, settings),
            settings.lora,
            settings.training,
            description=f"{dataset} repeat {repeat}",
        )
        best = adapter.history[adapter.best_epoch - 1]
        logger.info(
            "LIFT %s repeat %d: epoch %d kept (validation accuracy %.3f, loss %.4f)",
            dataset,
            repeat,
            adapter.best_epoch,
            best["validation_accuracy"],
            best["validation_loss"],
        )
        adapters[int(repeat)] = adapter
        del model
    return adapters


def predict(
    dataset: str,
    base: BaseModel,
    adapters: dict[int, TrainedAdapter],
    prompts: pd.DataFrame,
    n_classes: int,
    settings: LiftSettings,
) -> pd.DataFrame:
    """Test predictions of every repeat's adapter: ``model, repeat, row, y_true, y_pred,
    output, valid`` (``y_pred`` is -1 where the output did not parse)."""
    parts = []
    for repeat, adapter in sorted(adapters.items()):
        model, tokenizer = _load(base, settings)
        test = prompts[(prompts["repeat"] == repeat) & (prompts["split"] == "test")]
        texts, labels = answer(
            adapter.attach(model),
            tokenizer,
            test,
            n_classes,
            settings,
            description=f"{dataset} repeat {repeat}: predict",
        )
        parts.append(
            pd.DataFrame(
                {
                    "model": "lift",
                    "repeat": int(repeat),
                    "row": test["row"].to_numpy(),
                    "y_true": test["label"].to_numpy(),
                    "y_pred": labels,
                    "output": texts,
                    "valid": labels != INVALID,
                }
            )
        )
        del model
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return pd.concat(parts, ignore_index=True)
