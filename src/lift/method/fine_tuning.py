"""LoRA fine-tuning on prompt -> completion pairs with the loss on the completion only.

A short loop in the manner of nanoGPT: batches of similar lengths in random order, left-padded
(so every completion ends at the last position and logits are computed only for the completion
tokens), AdamW with linear warm-up and decay, gradient clipping, validation after each epoch,
and the epoch with the best validation score kept (accuracy for classification, RMSE for
regression; ties: lower validation loss), or the last one (``training.keep``)."""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F  # noqa: N812 (torch's convention)
from tqdm.auto import tqdm

from lift.config.errors import DatasetInputError
from lift.config.lift import LoraSettings, TrainingSettings
from lift.method import batched_lora
from lift.method.batched_lora import sent
from lift.method.batching import balanced, by_length, left_pad, length_grouped
from lift.method.checkpoints import Checkpoints, training_key
from lift.method.language_model import (
    blocks,
    compiled_blocks,
    compiles,
    eager,
    release_memory,
)

logger = logging.getLogger(__name__)

IGNORE = -100  # target of positions that carry no loss


@dataclass
class TrainedAdapter:
    """A fine-tuned LoRA adapter: its PEFT config, its weights (PEFT state dict, on the CPU),
    the per-epoch history and the epoch whose weights these are; where a selection chose its
    settings, what it chose (``encoding``, ``learning_rate``, ``epochs``) and every candidate's
    validation outcome; the device and precision it was trained in; the ``members`` trained
    beside it from the next seeds (``training.ensemble``), whose answers are averaged with its
    own."""

    lora_config: dict[str, Any]
    weights: dict[str, torch.Tensor]
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    chosen: dict[str, Any] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    # where it was trained: device, weights' and products' dtypes (language_model.precision_used)
    trained_on: dict[str, str] = field(default_factory=dict)
    # learnt, or at_prior: its best validation score no better than one answer for every
    # validation row scores (the majority class; for numbers, their mean); "" where not known
    status: str = ""
    members: tuple[TrainedAdapter, ...] = ()

    @property
    def ensemble(self) -> tuple[TrainedAdapter, ...]:
        """This adapter and its members: the adapters whose answers are averaged."""
        return (self, *self.members)

    @property
    def ensemble_status(self) -> str:
        """``joint_status`` of the ensemble's adapters."""
        return joint_status(adapter.status for adapter in self.ensemble)

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


def joint_status(statuses: Iterable[str]) -> str:
    """The status of answers averaged over adapters of these ``statuses``: ``at_prior`` where
    every one learnt the prior only, ``learnt`` where one learnt more, "" where not known."""
    known = {status or "" for status in statuses}
    return "at_prior" if known == {"at_prior"} else "learnt" if "learnt" in known else ""


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


def completion_losses(model: Any, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of each completion position of ``batch`` (rows x the longest completion;
    0 where there is no completion token) and the targets there (``IGNORE`` where none), on
    the CPU.

    Logits are computed for the last ``completion_length + 1`` positions only: the ones that
    predict completion tokens (left padding puts every completion at the end)."""
    device = next(model.parameters()).device
    keep = batch["completion_length"]
    output = model(
        input_ids=sent(batch["input_ids"], device),
        attention_mask=sent(batch["attention_mask"], device),
        position_ids=sent(batch["position_ids"], device),
        logits_to_keep=keep + 1,
        use_cache=False,
    )
    logits = output.logits[:, :-1, :]  # position t predicts token t + 1
    targets = batch["targets"][:, -keep:]
    loss = F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        sent(targets.reshape(-1), device),
        ignore_index=IGNORE,
        reduction="none",
    )
    return loss.view(targets.shape), targets


def completion_loss(model: Any, batch: dict[str, Any]) -> tuple[torch.Tensor, int]:
    """Summed cross-entropy over the completion tokens of ``batch`` and their count."""
    losses, targets = completion_losses(model, batch)
    return losses.sum(), int((targets != IGNORE).sum())


HALF_PRECISION_SHARE = 0.85  # of a step's memory, what it takes with the model in 16 bits


def training_memory(
    config: Any, longest: int, batch_size: int, attention: str, held: Any = torch.float32
) -> int:
    """Bytes a training step of ``batch_size`` prompts of ``longest`` tokens takes beyond the
    model (held in ``held``, its weights' dtype): per layer and token the activations kept for
    the backward pass, and with the ``eager`` attention kernel every head's attention weights
    (``longest`` squared, the term that grows fast: 300 numeric columns write 2,900-token
    prompts).

    The two constants are measured (the embedded model on a 2-core CPU, float32 weights with
    bfloat16 products, 8 to 32 prompts of 60 to 200 tokens: the peak resident memory of a
    first step, docs/cpu-training.md): about 8.4 bytes per token, layer and unit of ``10
    hidden + 3 intermediate`` (activations in two precisions, the adapters' products, the
    matrix library's workspaces), and 26 bytes per head, layer and pair of positions. With the
    model in bfloat16 a step took 0.6 to 0.9 of that (``HALF_PRECISION_SHARE``: the adapters'
    float32 parts keep most of it).
    """
    layers, hidden = config.num_hidden_layers, config.hidden_size
    width = 10 * hidden + 3 * getattr(config, "intermediate_size", 4 * hidden)
    per_example = 8.4 * longest * layers * width
    if attention == "eager":
        per_example += 26 * layers * config.num_attention_heads * longest**2
    share = HALF_PRECISION_SHARE if held in (torch.bfloat16, torch.float16) else 1.0
    return int(share * batch_size * per_example)


MEMORY_SHARE = 0.8  # of the free memory, what the steps of adapters trained at once may take


def adapter_memory(model: Any, rank: int) -> int:
    """Bytes one LoRA adapter of ``rank`` on every linear layer of ``model``'s transformer
    blocks keeps while it trains: its weights, their gradients and AdamW's two moments, all
    float32."""
    found = blocks(model) or torch.nn.ModuleList()
    linear = [m for m in found.modules() if isinstance(m, torch.nn.Linear)]
    return 16 * rank * sum(m.in_features + m.out_features for m in linear)


def fitting_slots(
    model: Any, lora: LoraSettings, longest: int, batch_size: int, jobs: int, available: int
) -> int:
    """How many of ``jobs`` adapters train in one step: as many as fit in ``MEMORY_SHARE`` of
    ``available`` bytes, each a batch of ``batch_size`` prompts of up to ``longest`` tokens
    and its adapter's state; at least one (``check_fits`` says when one does not fit)."""
    config = model.config
    attention = getattr(config, "_attn_implementation", None) or "eager"
    per_job = training_memory(config, longest, batch_size, attention, model.dtype)
    per_job += adapter_memory(model, lora.rank)
    return max(1, min(jobs, int(MEMORY_SHARE * available // per_job)))


def check_fits(
    model: Any,
    lengths: Sequence[int],
    batch_size: int,
    description: str,
    available: int,
    together: bool = False,
) -> None:
    """Raise ``DatasetInputError`` before training if the longest prompt with its answer
    (``lengths``: tokens per example) exceeds the model's context, or if a batch of the
    longest ones would need more than ``available`` bytes; the message gives the numbers and
    the remedies (``together``: the batch is several adapters' batches in one step)."""
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
    needed = training_memory(config, longest, batch_size, attention, model.dtype)
    if needed > available:
        raise DatasetInputError(
            f"Fine-tuning {description}: a batch of {batch_size} prompts of up to {longest} "
            f"tokens needs about {needed / 2**30:.1f} GiB for training, and "
            f"{available / 2**30:.1f} GiB are free: lower `lift.training.batch_size`"
            + (", train fewer adapters at once (`fine_tuning.slots`)" if together else "")
            + f", or {shorten}."
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


@dataclass
class Job:
    """One adapter to fine-tune: ``train`` and ``validation`` pairs (prompts, completions), the
    ``validate`` metrics of a model's validation answers (with ``LOSS``, the validation rows'
    mean completion-token loss, where the answers give it: scored classes), its ``training``
    settings, the validation metric ``select_on`` that chooses its epoch (``LOSS``: the lowest
    validation loss), a ``description`` for messages and, for a second stage, the adapter it
    ``start``s from. ``prior`` is the ``select_on`` score of one answer for every validation
    row (the majority class, or their mean: ``Task.prior_score``): an adapter no better than it
    after half its epochs learnt nothing else, and with ``give_up_at_prior`` (another candidate
    setting is there to try) it stops there. ``identity`` is what else decides its training
    and validation (the caller's settings and task): a kept training state resumes only a job
    of the same identity (``lift.method.checkpoints``)."""

    train: tuple[Sequence[str], Sequence[str]]
    validation: tuple[Sequence[str], Sequence[str]]
    validate: Callable[[Any], dict[str, float]]
    training: TrainingSettings
    select_on: str = "accuracy"
    maximize: bool = True
    description: str = "fine-tune"
    start: TrainedAdapter | None = None
    prior: float | None = None
    give_up_at_prior: bool = False
    identity: str = ""


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
    """One ``Job``'s adapter (``train_adapters`` with that job alone)."""
    job = Job(train, validation, validate, training, select_on, maximize, description, start)
    return train_adapters(model, tokenizer, [job], lora)[0]


def initial_adapter(model: Any, lora: LoraSettings, seed: int) -> tuple[dict[str, Any], dict]:
    """PEFT's configuration of ``lora`` on ``model`` (as a dict) and the adapter PEFT
    initialises after ``torch.manual_seed(seed)`` (its state dict): what fine-tuning starts
    from. ``model`` is left as it was."""
    from peft import get_peft_model, get_peft_model_state_dict

    torch.manual_seed(seed)
    peft_model = get_peft_model(model, lora.peft_config())
    weights = {k: v.detach().clone() for k, v in get_peft_model_state_dict(peft_model).items()}
    config = peft_model.peft_config["default"].to_dict()
    peft_model.unload()
    config = {k: (sorted(v) if isinstance(v, set) else v) for k, v in config.items()}
    return config, weights


def _module_of(key: str) -> tuple[str, str]:
    """The module path and the matrix (``A`` or ``B``) of a PEFT LoRA state-dict key
    (``base_model.model.<module>.lora_A.weight``)."""
    path, matrix, _ = key.removeprefix("base_model.model.").rsplit(".", 2)
    return path, matrix.removeprefix("lora_")


def _starting_weights(
    job: Job, config: dict[str, Any], initial: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """``initial``, or the first stage's adapter of ``job`` where it has one: it must have
    the shape (rank, alpha) and the layers of ``config``."""
    start = job.start
    if start is None:
        return initial
    shape = {"r": config["r"], "lora_alpha": config["lora_alpha"]}
    theirs = {key: start.lora_config.get(key) for key in shape}
    if shape != theirs:
        raise DatasetInputError(
            f"Fine-tuning {job.description}: the first stage's adapter has LoRA {theirs} and "
            f"this stage asks for {shape}; give both stages the same `lift.lora`."
        )
    missing = [key for key in initial if key not in start.weights]
    if missing:
        raise DatasetInputError(
            f"Fine-tuning {job.description}: the first stage's adapter has no weights for "
            f"{len(missing)} LoRA layers of this one (e.g. {missing[0]}); give both stages the "
            "same `lift.lora.target_modules`."
        )
    return {key: start.weights[key] for key in initial}


def planned_epochs(training: TrainingSettings, steps_per_epoch: int) -> int:
    """The epochs planned: ``training.epochs``, or more where ``training.min_steps`` needs them."""
    return max(training.epochs, math.ceil(training.min_steps / steps_per_epoch))


def schedule(training: TrainingSettings, step: int, total: int) -> float:
    """The learning rate's factor at optimizer step ``step`` of ``total``: linear warm-up over
    ``training.warmup_ratio`` of them, then linear decay to 0."""
    return batched_lora.linear_schedule(step, int(training.warmup_ratio * total), total)


@dataclass
class _Running:
    """A job in a slot: its data, its order, where it is and what it has kept."""

    index: int
    job: Job
    config: dict[str, Any]  # PEFT's LoRA configuration
    initial: dict[str, torch.Tensor]  # the weights it starts from
    examples: list[Example]
    lengths: list[int]
    validation: list[Example]
    order: torch.Generator
    epoch: int = 0
    batches: list[list[int]] = field(default_factory=list)
    position: int = 0
    steps: int = 0  # optimizer steps taken
    started: float = 0.0
    loss: torch.Tensor | float = 0.0
    tokens: int = 0
    seen: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best: tuple[tuple[float, float], int] | None = None  # its preference key, the epoch
    kept: tuple[dict[str, torch.Tensor], int] | None = None  # ``training.keep``'s weights, epoch
    key: str = ""  # of its kept training state (``checkpoints.training_key``)
    resumed: dict[str, Any] | None = None  # the kept state it resumes from, until it has a slot

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.examples) / self.job.training.batch_size)

    @property
    def epochs(self) -> int:
        return planned_epochs(self.job.training, self.steps_per_epoch)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.epochs

    @property
    def decay(self) -> float:
        """Its weights' average's decay per step (``training.average``: the half-life in
        epochs); 0 where it keeps its weights as they are."""
        half_life = self.job.training.average
        return 0.0 if half_life is None else 0.5 ** (1 / (half_life * self.steps_per_epoch))

    def done(self) -> bool:
        """Whether its last epoch has run: the epochs planned, ``training.patience`` epochs
        in a row without beating the best, or half the epochs at the prior where the job gives
        up there (``Job.give_up_at_prior``)."""
        patience = self.job.training.patience
        assert self.best is not None
        return (
            self.epoch >= self.epochs
            or (patience is not None and self.epoch - self.best[1] >= patience)
            or (
                self.job.give_up_at_prior
                and 2 * self.epoch >= self.epochs
                and self.status() == "at_prior"
            )
        )

    def status(self) -> str:
        """``at_prior`` while its best epoch scores no better on validation than answering the
        prior (``Job.prior``), else ``learnt``; "" where the prior is not known."""
        job = self.job
        if job.prior is None or self.best is None or job.select_on == LOSS:
            return ""
        score = self.history[self.best[1] - 1][f"validation_{job.select_on}"]
        at_prior = score <= job.prior + 1e-9 if job.maximize else score >= job.prior - 1e-9
        return "at_prior" if at_prior else "learnt"

    def state(
        self,
        weights: dict[str, torch.Tensor],
        moments: dict[str, Any],
        dropout: torch.Tensor,
        average: list[torch.Tensor] | None,
    ) -> dict[str, Any]:
        """Its training state after its epoch, with its slot's part: the adapter's
        ``weights``, its AdamW ``moments``, its ``dropout`` generator's state and its weights'
        ``average`` (``training.average``)."""
        return {
            "epoch": self.epoch,
            "steps": self.steps,
            "history": self.history,
            "best": self.best,
            "kept": self.kept,
            "order": self.order.get_state(),
            "weights": weights,
            "moments": moments,
            "dropout": dropout,
            "average": average,
        }

    def resume(self, state: dict[str, Any]) -> None:
        """Continue after the epoch of a kept training ``state`` (its slot's part, the
        weights, moments and dropout generator, is taken when it gets a slot)."""
        self.epoch, self.steps = state["epoch"], state["steps"]
        self.history, self.best, self.kept = state["history"], state["best"], state["kept"]
        self.order.set_state(state["order"])
        self.resumed = state

    def learning_rate(self) -> float:
        """The rate of its next step."""
        training = self.job.training
        return training.learning_rate * schedule(training, self.steps, self.total_steps)

    def next_epoch(self) -> None:
        self.epoch += 1
        training = self.job.training
        if training.sampling == "balanced":
            drawn = balanced([tuple(e.completion_ids) for e in self.examples], self.order)
            grouped = length_grouped(
                [self.lengths[i] for i in drawn], training.batch_size, self.order
            )
            self.batches = [[drawn[j] for j in batch] for batch in grouped]
        else:
            self.batches = length_grouped(self.lengths, training.batch_size, self.order)
        self.position, self.loss, self.tokens, self.seen = 0, 0.0, 0, 0
        self.started = time.perf_counter()


def stacked(parts: Sequence[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """Collated batches (``collate``), one per slot, as one batch laid out slot by slot: every
    slot the same number of rows (rows beyond a slot's own are a lone padding token, with no
    loss) and every row left-padded to the longest."""
    rows = max(len(p["input_ids"]) for p in parts)
    length = max(p["input_ids"].shape[1] for p in parts)
    total = rows * len(parts)
    input_ids = torch.full((total, length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((total, length), dtype=torch.long)
    attention_mask[:, -1] = 1  # a filler row attends to itself: no row is all masked
    position_ids = torch.zeros((total, length), dtype=torch.long)
    targets = torch.full((total, length), IGNORE, dtype=torch.long)
    for i, part in enumerate(parts):
        n, width = part["input_ids"].shape
        where = slice(i * rows, i * rows + n), slice(length - width, length)
        input_ids[where] = part["input_ids"]
        attention_mask[where] = part["attention_mask"]
        position_ids[where] = part["position_ids"]
        targets[where] = part["targets"]
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "position_ids": position_ids,
        "targets": targets,
        "completion_length": max(p["completion_length"] for p in parts),
    }


def train_adapters(
    model: Any,
    tokenizer: Any,
    jobs: Sequence[Job],
    lora: LoraSettings,
    slots: int | None = None,
    checkpoints: Checkpoints | None = None,
) -> list[TrainedAdapter]:
    """Fine-tune one LoRA adapter per job on ``model`` (a freshly loaded base model; it is
    given back unchanged), ``slots`` jobs at a time in one forward and backward pass
    (``lift.method.batched_lora``; ``None``: as many as the free memory holds,
    ``fitting_slots``), and keep each job's best epoch (or its last: ``training.keep``).
    Returns the adapters in the jobs' order.

    Each job is trained as it would be alone: from PEFT's LoRA initialisation after
    ``torch.manual_seed(training.seed)`` (or its ``start``'s weights), on batches of similar
    lengths in the order its seed draws, with AdamW, linear warm-up and decay and gradient
    clipping of its own settings. After each of its epochs, ``validate(model)`` (the model
    answering with that job's adapter) returns named metrics of its validation answers, and
    the epoch with the best ``select_on`` (highest if ``maximize``; ``LOSS``: the lowest
    validation loss) is kept, or the last one with ``training.keep: last``. The history
    records each as ``validation_<name>``, with the epoch's training tokens (prompt and
    completion, no padding) and seconds. When a job ends, the next one takes its slot. With
    ``training.average``, what is validated and kept is the moving average of the job's
    weights over its steps (``batched_lora.SlotAverage``), not its last step's.

    With ``checkpoints``, each job's training state is kept there after each of its epochs
    and forgotten once every job is done: a job whose state was kept by an interrupted call
    resumes after that epoch, and trains on as it would have."""
    if not jobs:
        return []
    pad_id = tokenizer.pad_token_id
    device = next(model.parameters()).device
    runs = []
    layouts: dict[int, tuple[dict[str, Any], dict[str, torch.Tensor]]] = {}
    for index, job in enumerate(jobs):
        seed = job.training.seed
        if seed not in layouts:
            layouts[seed] = initial_adapter(model, lora, seed)
        config, initial = layouts[seed]
        examples = encode(tokenizer, *job.train)
        lengths = [len(e.prompt_ids) + len(e.completion_ids) for e in examples]
        validation = encode(tokenizer, *job.validation)
        run = _Running(
            index,
            job,
            config,
            _starting_weights(job, config, initial),
            examples,
            lengths,
            validation,
            torch.Generator().manual_seed(seed),
        )
        if checkpoints is not None:
            run.key = _training_key(model, lora, run)
            state = checkpoints.read(run.key)
            if state is not None:
                run.resume(state)
                logger.info(
                    "%s: resumed after epoch %d of %d (its training state kept in %s)",
                    job.description,
                    run.epoch,
                    run.epochs,
                    checkpoints.folder,
                )
        runs.append(run)
    # a step holds `slots` batches, every row as long as the longest of any job
    lengths = [
        n
        for run in runs
        for n in run.lengths + [len(e.prompt_ids) + len(e.completion_ids) for e in run.validation]
    ]
    batch_size = max(job.training.batch_size for job in jobs)
    available = free_memory(device)
    if slots is None:
        slots = fitting_slots(model, lora, max(lengths), batch_size, len(jobs), available)
        if len(jobs) > 1:
            logger.info("Fine-tuning %d adapters, %d at once (the free memory)", len(jobs), slots)
    slots = max(1, min(slots, len(jobs)))
    check_fits(
        model,
        lengths,
        slots * batch_size,
        jobs[0].description if len(jobs) == 1 else f"{len(jobs)} adapters, {slots} at once",
        available,
        together=slots > 1,
    )
    names = sorted({_module_of(key)[0] for key in layouts[jobs[0].training.seed][1]})
    routing, layers = batched_lora.inject(model, names, slots, lora.rank, lora.alpha, lora.dropout)
    planned = sum(sum(run.lengths) * run.epochs for run in runs)
    compile_them = compiles(jobs[0].training.compile, model, device, planned)
    try:
        with compiled_blocks(model, compile_them):
            adapters = _train(model, pad_id, runs, layers, routing, slots, checkpoints)
    finally:
        batched_lora.remove(model, layers)
        release_memory()
    if checkpoints is not None:
        for run in runs:
            checkpoints.discard(run.key)
    return adapters


def _training_key(model: Any, lora: LoraSettings, run: _Running) -> str:
    """The key of ``run``'s kept training state: everything its training depends on."""
    job = run.job
    parts = {
        "model": model.config.to_dict(),
        "device": str(next(model.parameters()).device),
        "dtype": str(next(model.parameters()).dtype),
        "lora": lora.to_json(),
        "training": job.training.to_json(),
        "train": job.train,
        "validation": job.validation,
        "select_on": job.select_on,
        "maximize": job.maximize,
        "description": job.description,
        "prior": job.prior,
        "give_up_at_prior": job.give_up_at_prior,
        "identity": job.identity,
    }
    return training_key(parts, run.initial)


def _train(
    model: Any,
    pad_id: int,
    runs: list[_Running],
    layers: dict[str, batched_lora.BatchedLoraLinear],
    routing: batched_lora.Routing,
    slots: int,
    checkpoints: Checkpoints | None,
) -> list[TrainedAdapter]:
    """``train_adapters``' loop over steps of every running job."""
    device = next(model.parameters()).device
    parameters = [p for layer in layers.values() for p in (layer.lora_A, layer.lora_B)]
    optimizer = batched_lora.SlotAdamW(parameters)
    averaged = any(run.job.training.average is not None for run in runs)
    average = batched_lora.SlotAverage(parameters) if averaged else None
    results: dict[int, TrainedAdapter] = {}
    for run in runs:
        if run.resumed is not None and run.done():  # it was done, the others not
            results[run.index] = _adapter(run)
    waiting = [run for run in reversed(runs) if run.index not in results]
    running: dict[int, _Running] = {}

    def load(slot: int, run: _Running) -> None:
        state, run.resumed = run.resumed, None
        dropout = torch.Generator(device).manual_seed(run.job.training.seed)
        optimizer.reset(slot)
        if state is not None:
            optimizer.restore(slot, state["moments"])
            dropout.set_state(state["dropout"])
        with torch.no_grad():
            for key, weight in (run.initial if state is None else state["weights"]).items():
                name, matrix = _module_of(key)
                getattr(layers[name], f"lora_{matrix}")[slot].copy_(weight)
        if average is not None:
            average.reset(slot)
            if state is not None and state.get("average") is not None:
                average.restore(slot, state["average"])
        routing.generators[slot] = dropout
        run.next_epoch()
        running[slot] = run

    def weights(slot: int) -> dict[str, torch.Tensor]:
        return {
            key: getattr(layers[name], f"lora_{matrix}")[slot].detach().cpu().clone()
            for key in running[slot].initial
            for name, matrix in [_module_of(key)]
        }

    for slot in range(min(slots, len(waiting))):
        load(slot, waiting.pop())
    single = len(runs) == 1
    progress = tqdm(
        total=sum(run.steps if run.index in results else run.total_steps for run in runs),
        initial=sum(run.steps for run in runs),
        desc=_progress(runs[0]) if single else f"fine-tuning {len(runs)} adapters",
        leave=False,
    )
    model.train()
    with progress, interrupt_between_steps() as interrupted:
        while running:
            order = sorted(running)
            parts = [
                collate(
                    [running[s].examples[i] for i in running[s].batches[running[s].position]],
                    pad_id,
                )
                for s in order
            ]
            routing.active = (
                None if order == list(range(slots)) else sent(torch.tensor(order), device)
            )
            routing.shapes = {
                s: tuple(p["input_ids"].shape) for s, p in zip(order, parts, strict=True)
            }
            batch = stacked(parts, pad_id)
            losses, counts = _slot_losses(model, batch, len(order))
            (losses / sent(counts, device)).sum().backward()
            _update(optimizer, parameters, running, slots, device)
            if average is not None:
                decay = [running[s].decay if s in running else 1.0 for s in range(slots)]
                average.update(sent(torch.tensor(decay), device))
            for i, slot in enumerate(order):
                run = running[slot]
                indices = run.batches[run.position]
                run.loss = run.loss + losses[i].detach()
                run.tokens += int(counts[i])
                run.seen += sum(run.lengths[j] for j in indices)
                run.position += 1
                run.steps += 1
            progress.update(len(order))
            if interrupted():
                run = running[order[0]]
                said = (
                    f"{run.job.description}: interrupted in epoch {run.epoch} of "
                    f"{run.epochs}; no adapter was kept"
                    if single
                    else f"fine-tuning {len(runs)} adapters: interrupted with {len(results)} "
                    "done; none was kept"
                )
                if checkpoints is not None:
                    said += (
                        f" (the training state after each one's last whole epoch is, in "
                        f"{checkpoints.folder}: the same fine-tuning run again resumes there)"
                    )
                logger.warning(said)  # Kedro's command line prints only "Aborted!"
                raise KeyboardInterrupt(said)
            for slot in order:
                run = running[slot]
                if run.position < len(run.batches):
                    continue
                if average is not None:  # validated and kept: the averaged weights
                    average.swap(slot)
                _end_epoch(model, pad_id, routing, slot, run, weights)
                if average is not None:
                    average.swap(slot)
                if checkpoints is not None:
                    dropout = routing.generators[slot].get_state()
                    averaged_state = None if average is None else average.state_of(slot)
                    state = run.state(
                        weights(slot), optimizer.state_of(slot), dropout, averaged_state
                    )
                    checkpoints.write(run.key, state)
                last = run.history[-1]
                progress.set_postfix(
                    adapters=f"{len(results)}/{len(runs)}",
                    loss=f"{last['train_loss']:.4f}",
                    validation=f"{last[f'validation_{run.job.select_on}']:.4g}",
                )
                if not run.done():
                    run.next_epoch()
                    if single:
                        progress.set_description(_progress(run))
                    continue
                if run.epoch < run.epochs:  # stopped early: its steps left will not run
                    progress.total -= (run.epochs - run.epoch) * run.steps_per_epoch
                    logger.info(
                        "%s: stopped after epoch %d of %d, the best epoch %d not beaten in %d",
                        run.job.description,
                        run.epoch,
                        run.epochs,
                        run.best[1],
                        run.epoch - run.best[1],
                    )
                results[run.index] = _adapter(run)
                del running[slot]
                if waiting:
                    load(slot, waiting.pop())
    return [results[i] for i in range(len(runs))]


def _progress(run: _Running) -> str:
    """The progress bar's description of one job in its epoch."""
    return f"{run.job.description} epoch {run.epoch}/{run.epochs}"


def _slot_losses(
    model: Any, batch: dict[str, Any], groups: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed completion cross-entropy of each slot's rows of a ``stacked`` batch, and their
    completion tokens (on the CPU)."""
    losses, targets = completion_losses(model, batch)
    return losses.view(groups, -1).sum(dim=1), (targets != IGNORE).view(groups, -1).sum(dim=1)


def _update(
    optimizer: batched_lora.SlotAdamW,
    parameters: list[torch.Tensor],
    running: dict[int, _Running],
    slots: int,
    device: torch.device,
) -> None:
    """Clip each running job's gradients and step its weights at its scheduled learning rate
    (``running``: the job in each busy slot)."""

    def per_slot(value: Callable[[_Running], float]) -> torch.Tensor:
        values = [value(running[s]) if s in running else 0.0 for s in range(slots)]
        return sent(torch.tensor(values, dtype=torch.float64), device)

    max_norm = per_slot(lambda run: run.job.training.max_grad_norm).float()
    learning_rate = per_slot(_Running.learning_rate)
    weight_decay = per_slot(lambda run: run.job.training.weight_decay)
    batched_lora.clip_per_slot([p.grad for p in parameters], max_norm)
    optimizer.step([s in running for s in range(slots)], learning_rate, weight_decay)
    for p in parameters:
        p.grad = None


def _end_epoch(
    model: Any,
    pad_id: int,
    routing: batched_lora.Routing,
    slot: int,
    run: _Running,
    weights: Callable[[int], dict[str, torch.Tensor]],
) -> None:
    """Validate ``run``'s adapter after its epoch, record the epoch and keep its weights if
    it is the best so far (with ``training.keep: last``, every epoch's in turn)."""
    job = run.job
    train_seconds = time.perf_counter() - run.started
    model.eval()
    routing.slot = slot
    try:
        with eager():  # no gradients: larger batches than training's
            scores = job.validate(model)
            validation_loss = scores.pop(LOSS, None)
            if validation_loss is None:  # not given by the answers: a pass of its own
                validation_loss = mean_loss(
                    model, run.validation, pad_id, 4 * job.training.batch_size
                )
    finally:
        routing.slot = None
        model.train()
    run.history.append(
        {
            "epoch": run.epoch,
            "train_loss": float(run.loss) / max(run.tokens, 1),
            "validation_loss": float(validation_loss),
            **{f"validation_{name}": float(value) for name, value in scores.items()},
            "train_tokens": run.seen,
            "train_seconds": train_seconds,
            "seconds": time.perf_counter() - run.started,
        }
    )
    score = -validation_loss if job.select_on == LOSS else scores[job.select_on]
    key = preference(score, validation_loss, job.maximize or job.select_on == LOSS)
    better = run.best is None or key > run.best[0]
    if better:
        run.best = (key, run.epoch)
    if better or job.training.keep == "last":
        run.kept = (weights(slot), run.epoch)


def _adapter(run: _Running) -> TrainedAdapter:
    assert run.kept is not None
    return TrainedAdapter(
        lora_config=run.config,
        weights=run.kept[0],
        history=run.history,
        best_epoch=run.kept[1],
        status=run.status(),
    )
