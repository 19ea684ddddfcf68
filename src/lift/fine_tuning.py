"""LoRA fine-tuning on prompt -> completion pairs with the loss on the completion only.

A short loop in the manner of nanoGPT: batches of similar lengths in random order, left-padded
(so every completion ends at the last position and logits are computed only for the completion
tokens), AdamW with linear warm-up and decay, gradient clipping, validation after each epoch,
and the epoch with the best validation score kept (accuracy for classification, RMSE for
regression; ties: lower validation loss)."""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 (torch's convention)
from tqdm.auto import tqdm

from lift.batching import by_length, left_pad, length_grouped
from lift.errors import DatasetInputError
from lift.lift_settings import LoraSettings, TrainingSettings

logger = logging.getLogger(__name__)

IGNORE = -100  # target of positions that carry no loss


@dataclass
class TrainedAdapter:
    """A fine-tuned LoRA adapter: its PEFT config, its weights (PEFT state dict, on the CPU),
    the per-epoch history and the epoch whose weights these are; where a selection chose its
    settings, what it chose (``encoding``, ``learning_rate``, ``epochs``) and every candidate's
    validation outcome; the device and precision it was trained in."""

    lora_config: dict[str, Any]
    weights: dict[str, torch.Tensor]
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    chosen: dict[str, Any] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    # where it was trained: device, weights' and products' dtypes (language_model.precision_used)
    trained_on: dict[str, str] = field(default_factory=dict)

    @property
    def kept(self) -> dict[str, float]:
        """The history's record of the epoch whose weights these are."""
        return self.history[self.best_epoch - 1]

    def attach(self, model: Any) -> Any:
        """``model`` wrapped with this adapter, ready for inference."""
        from peft import LoraConfig, get_peft_model, set_peft_model_state_dict

        peft_model = get_peft_model(model, LoraConfig(**self.lora_config))
        set_peft_model_state_dict(peft_model, self.weights)
        return peft_model.eval()


@dataclass(frozen=True)
class Example:
    """One tokenized pair: prompt and completion token ids (the completion ends with EOS)."""

    prompt_ids: list[int]
    completion_ids: list[int]


def encode(tokenizer: Any, prompts: Sequence[str], completions: Sequence[str]) -> list[Example]:
    """Tokenize prompts (as generation will) and completions, appending EOS to each completion."""
    prompt_ids = tokenizer(list(prompts)).input_ids
    completion_ids = tokenizer(list(completions), add_special_tokens=False).input_ids
    eos = tokenizer.eos_token_id
    return [Example(p, [*c, eos]) for p, c in zip(prompt_ids, completion_ids, strict=True)]


def collate(examples: Sequence[Example], pad_id: int) -> dict[str, Any]:
    """A left-padded batch: ``input_ids``, ``attention_mask``, ``position_ids``, ``targets``
    (the token where the loss applies, ``IGNORE`` elsewhere) and ``completion_length``, the
    longest completion (the positions that need logits)."""
    input_ids, attention_mask, position_ids = left_pad(
        [e.prompt_ids + e.completion_ids for e in examples], pad_id
    )
    targets = torch.full_like(input_ids, IGNORE)
    for i, example in enumerate(examples):
        targets[i, input_ids.shape[1] - len(example.completion_ids) :] = torch.tensor(
            example.completion_ids
        )
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "position_ids": position_ids,
        "targets": targets,
        "completion_length": max(len(e.completion_ids) for e in examples),
    }


def completion_loss(model: Any, batch: dict[str, Any]) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over the completion tokens of ``batch`` and their count.

    Logits are computed for the last ``completion_length + 1`` positions only: the ones that
    predict completion tokens (left padding puts every completion at the end)."""
    device = next(model.parameters()).device
    keep = batch["completion_length"]
    output = model(
        input_ids=batch["input_ids"].to(device),
        attention_mask=batch["attention_mask"].to(device),
        position_ids=batch["position_ids"].to(device),
        logits_to_keep=keep + 1,
    )
    logits = output.logits[:, :-1, :]  # position t predicts token t + 1
    targets = batch["targets"][:, -keep:].to(device)
    loss = F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        targets.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )
    return loss, int((targets != IGNORE).sum())


def training_memory(config: Any, longest: int, batch_size: int, attention: str) -> int:
    """Bytes a training step of ``batch_size`` prompts of ``longest`` tokens keeps for its
    backward pass, roughly: per layer and token the hidden states of attention and MLP, and
    with the ``eager`` attention kernel every head's attention weights (``longest`` squared,
    the term that grows fast: 300 numeric columns write 2,900-token prompts)."""
    layers, hidden = config.num_hidden_layers, config.hidden_size
    per_token = layers * (10 * hidden + 3 * getattr(config, "intermediate_size", 4 * hidden))
    per_example = longest * per_token
    if attention == "eager":
        per_example += 2 * layers * config.num_attention_heads * longest**2
    return 4 * batch_size * per_example  # float32


def check_fits(
    model: Any, lengths: Sequence[int], batch_size: int, description: str, available: int
) -> None:
    """Raise ``DatasetInputError`` before training if the longest prompt with its answer
    (``lengths``: tokens per example) exceeds the model's context, or if a batch of the
    longest ones would need more than ``available`` bytes; the message gives the numbers and
    the remedies."""
    config = model.config
    longest = max(lengths)
    context = getattr(config, "max_position_embeddings", None)
    shorten = (
        "shorten the prompts (drop columns with the dataset's `drop_columns`, or fewer "
        "decimals: `lift.serialization.decimals`)"
    )
    if context and longest > context:
        raise DatasetInputError(
            f"Fine-tuning {description}: the longest prompt with its answer is {longest} "
            f"tokens, more than the model's context of {context}: {shorten}, or choose a model "
            "with a longer context (`lift.model`)."
        )
    attention = getattr(config, "_attn_implementation", None) or "eager"
    needed = training_memory(config, longest, batch_size, attention)
    if needed > available:
        raise DatasetInputError(
            f"Fine-tuning {description}: a batch of {batch_size} prompts of up to {longest} "
            f"tokens needs about {needed / 2**30:.1f} GiB for training, and "
            f"{available / 2**30:.1f} GiB are free: lower `lift.training.batch_size`, or "
            f"{shorten}."
        )


def free_memory(device: torch.device) -> int:
    """Bytes free on ``device`` (a GPU's memory, else the machine's available memory)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    import psutil

    return int(psutil.virtual_memory().available)


@torch.no_grad()
def mean_loss(model: Any, examples: list[Example], pad_id: int, batch_size: int) -> float:
    """Mean per-token completion loss of ``examples`` (no gradients)."""
    total, count = 0.0, 0
    for indices in by_length([len(e.prompt_ids) for e in examples], batch_size):
        loss, n = completion_loss(model, collate([examples[i] for i in indices], pad_id))
        total, count = total + float(loss), count + n
    return total / max(count, 1)


LOSS = "loss"  # ``train_adapter``'s ``select_on`` that keeps the epoch of lowest validation loss


def preference(score: float, validation_loss: float, maximize: bool) -> tuple[float, float]:
    """How good a validation outcome is, as a key to maximize: the score (negated if lower is
    better; a score that is not finite counts as the worst), then the lower validation loss."""
    score = score if maximize else -score
    return (score if math.isfinite(score) else -math.inf, -validation_loss)


@contextlib.contextmanager
def interrupt_between_steps() -> Iterator[Callable[[], bool]]:
    """Ctrl-C (SIGINT) asks the training loop to stop after the step it is in: yields a
    function that says whether it was pressed. A second press interrupts at once.

    Python raises ``KeyboardInterrupt`` wherever the main thread happens to be, and one raised
    inside a weak-reference callback or a ``__del__`` is printed and ignored, so a press during
    training could be lost; a flag checked between steps is never lost. Outside the main thread
    (where signals cannot be handled) it never reports a press."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    pressed: list[bool] = []

    def handler(signum: int, frame: Any) -> None:
        if pressed:
            raise KeyboardInterrupt
        pressed.append(True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(pressed)
    finally:
        signal.signal(signal.SIGINT, previous)


def _continue_from(peft_model: Any, start: TrainedAdapter, description: str) -> None:
    """Load ``start``'s weights into ``peft_model``'s adapter, which must have its shape."""
    from peft import set_peft_model_state_dict

    config = peft_model.peft_config["default"]
    shape = {"r": config.r, "lora_alpha": config.lora_alpha}
    theirs = {key: start.lora_config.get(key) for key in shape}
    if shape != theirs:
        raise DatasetInputError(
            f"Fine-tuning {description}: the first stage's adapter has LoRA {theirs} and this "
            f"stage asks for {shape}; give both stages the same `lift.lora`."
        )
    result = set_peft_model_state_dict(peft_model, start.weights)
    missing = [k for k in result.missing_keys if "lora_" in k]
    if missing:
        raise DatasetInputError(
            f"Fine-tuning {description}: the first stage's adapter has no weights for "
            f"{len(missing)} LoRA layers of this one (e.g. {missing[0]}); give both stages the "
            "same `lift.lora.target_modules`."
        )


def train_adapter(
    model: Any,
    tokenizer: Any,
    train: tuple[Sequence[str], Sequence[str]],
    validation: tuple[Sequence[str], Sequence[str]],
    validate: Callable[[Any], dict[str, float]],
    lora: LoraSettings,
    training: TrainingSettings,
    select_on: str = "accuracy",
    maximize: bool = True,
    description: str = "fine-tune",
    start: TrainedAdapter | None = None,
) -> TrainedAdapter:
    """Fine-tune a LoRA adapter on ``train`` (prompts, completions) and keep the epoch that
    scores best on ``validation``; from ``start``'s weights where given (a second stage of
    fine-tuning), else from LoRA's initialisation.

    ``validate(peft_model)`` returns named metrics of the model's answers on the validation
    rows (e.g. accuracy and invalid rate); it is called after every epoch, and the epoch with
    the best ``select_on`` (highest if ``maximize``; ``LOSS``: the lowest validation loss, for
    text that has no answers to score) is kept. The history records each as
    ``validation_<name>``, with the epoch's training tokens (prompt and completion, no padding)
    and seconds. ``model`` is changed in place (LoRA layers are injected): pass a freshly
    loaded one.
    """
    from peft import get_peft_model, get_peft_model_state_dict
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(training.seed)  # LoRA's initialisation and the batch order
    peft_model = get_peft_model(model, lora.peft_config())
    if start is not None:
        _continue_from(peft_model, start, description)
    pad_id = tokenizer.pad_token_id
    train_examples = encode(tokenizer, *train)
    lengths = [len(e.prompt_ids) + len(e.completion_ids) for e in train_examples]
    validation_examples = encode(tokenizer, *validation)
    device = next(model.parameters()).device
    check_fits(
        model,
        lengths + [len(e.prompt_ids) + len(e.completion_ids) for e in validation_examples],
        training.batch_size,
        description,
        free_memory(device),
    )
    parameters = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        parameters, lr=training.learning_rate, weight_decay=training.weight_decay
    )
    steps_per_epoch = math.ceil(len(train_examples) / training.batch_size)
    total_steps = steps_per_epoch * training.epochs
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(training.warmup_ratio * total_steps), total_steps
    )
    generator = torch.Generator().manual_seed(training.seed)
    history: list[dict[str, float]] = []
    best: tuple[tuple[float, float], dict[str, torch.Tensor], int] | None = None
    with interrupt_between_steps() as interrupted:
        for epoch in range(1, training.epochs + 1):
            started = time.perf_counter()
            peft_model.train()
            progress = tqdm(
                length_grouped(lengths, training.batch_size, generator),
                desc=f"{description} epoch {epoch}/{training.epochs}",
                leave=False,
            )
            running, epoch_loss, epoch_tokens, seen = None, 0.0, 0, 0
            for indices in progress:
                batch = [train_examples[i] for i in indices]
                seen += sum(lengths[i] for i in indices)
                loss_sum, n_tokens = completion_loss(peft_model, collate(batch, pad_id))
                (loss_sum / n_tokens).backward()
                torch.nn.utils.clip_grad_norm_(parameters, training.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                summed = loss_sum.item()
                loss = summed / n_tokens
                running = loss if running is None else 0.9 * running + 0.1 * loss
                epoch_loss, epoch_tokens = epoch_loss + summed, epoch_tokens + n_tokens
                progress.set_postfix(loss=f"{running:.4f}")
                if interrupted():
                    said = (
                        f"{description}: interrupted in epoch {epoch} of {training.epochs}; "
                        "no adapter was kept"
                    )
                    logger.warning(said)  # Kedro's command line prints only "Aborted!"
                    raise KeyboardInterrupt(said)
            train_seconds = time.perf_counter() - started
            peft_model.eval()
            # no gradients: larger batches than training's
            validation_loss = mean_loss(
                peft_model, validation_examples, pad_id, 4 * training.batch_size
            )
            scores = validate(peft_model)
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": epoch_loss / max(epoch_tokens, 1),
                    "validation_loss": validation_loss,
                    **{f"validation_{name}": value for name, value in scores.items()},
                    "train_tokens": seen,
                    "train_seconds": train_seconds,
                    "seconds": time.perf_counter() - started,
                }
            )
            score = -validation_loss if select_on == LOSS else scores[select_on]
            key = preference(score, validation_loss, maximize or select_on == LOSS)
            if best is None or key > best[0]:
                weights = {
                    k: v.detach().cpu().clone()
                    for k, v in get_peft_model_state_dict(peft_model).items()
                }
                best = (key, weights, epoch)
    assert best is not None
    config = peft_model.peft_config["default"].to_dict()
    config = {k: (sorted(v) if isinstance(v, set) else v) for k, v in config.items()}
    return TrainedAdapter(lora_config=config, weights=best[1], history=history, best_epoch=best[2])
