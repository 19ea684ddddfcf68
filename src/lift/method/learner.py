"""The LIFT model of either task, as ``baselines`` is the classical ones: ``fine_tune`` one
LoRA adapter per repeat on the training prompts (choosing the epoch on the validation prompts),
then ``predict`` the test prompts: score each class's completion, or each number's of a grid
(``generation.mode: score``), or generate text and read it back (``generate``). The task
(``lift.method.tasks``) says how answers are read and which validation metric chooses the
epoch; everything else is shared. The settings (``lift.config.lift.LiftSettings``) come
validated."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from multiprocessing import get_context
from typing import Any

import numpy as np
import pandas as pd
import torch

from lift.config.errors import DatasetInputError
from lift.config.lift import LiftSettings, reject_inconsistent
from lift.data.splits import of_split
from lift.evaluation.metrics import probabilities_of, probability_columns
from lift.method.checkpoints import Checkpoints
from lift.method.encoding import Encodings
from lift.method.fine_tuning import (
    LOSS,
    Job,
    TrainedAdapter,
    joint_status,
    preference,
    train_adapters,
)
from lift.method.language_model import (
    BaseModel,
    autocast,
    compute_dtype,
    configure_threads,
    load_model,
    precision_used,
    release_memory,
    select_device,
    share_cores,
    training_devices,
)
from lift.method.prediction import generate, score_completions
from lift.method.prior_correction import fit_prior_correction
from lift.method.serialization import serialize
from lift.method.tasks import Answers, Classification, Task, averaged_answers

logger = logging.getLogger(__name__)

# the model names of LIFT's predictions: its answers, its scored classes beside generated
# answers (`generation.also_score`), and scored classes with the class prior taken out;
LIFT, LIFT_SCORED, LIFT_CORRECTED = "lift", "lift_scored", "lift_corrected"
LIFT_GREEDY = "lift_greedy"  # the greedy answers beside sampled ones (`generation.also_greedy`)
LIFT_AVERAGED = "lift_averaged"  # every repeat's answers averaged (`average_repeats`)


def answer_budget(
    tokenizer: Any, completions: Sequence[str], task: Task, settings: LiftSettings
) -> int:
    """How many tokens an answer may take: ``generation.max_new_tokens``, else the longest of
    ``completions`` and the task's margin."""
    if settings.generation.max_new_tokens:
        return settings.generation.max_new_tokens
    lengths = tokenizer(sorted(set(completions)), add_special_tokens=False).input_ids
    return max(map(len, lengths)) + task.answer_margin


def load_base(base: BaseModel, settings: LiftSettings) -> tuple[Any, Any]:
    """A fresh copy of the base model, on the settings' device and in their dtype, and its
    tokenizer; with ``weights: random``, the same architecture with weights drawn afresh
    (seeded, so that training and prediction read the same ones)."""
    configure_threads()
    device = select_device(settings.device)
    random_seed = settings.training.seed if settings.weights == "random" else None
    return load_model(base, device, compute_dtype(device, settings.dtype), random_seed)


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
    prefix: str = "",
) -> Answers:
    """The model's answers to ``prompts``, read as the task's predictions. ``completions`` (of
    the training rows, say) size the generation budget; ``train_targets`` give regression's
    fallback, the training mean; a ``prefix`` every prompt follows (in-context
    demonstrations) is read once."""
    generation = settings.generation
    if generation.mode == "score":
        numbers, scored = (
            (None, task.completions)
            if isinstance(task, Classification)
            else task.scored_numbers(completions)
        )
        scores = score_completions(
            model, tokenizer, list(prompts), scored, generation.batch_size, description, prefix
        )
        if numbers is None:
            return task.read_scores(scores)
        return task.read_scores(scores, numbers, generation.median)
    samples = generate(
        model,
        tokenizer,
        list(prompts),
        answer_budget(tokenizer, completions, task, settings),
        generation.batch_size,
        description,
        samples=generation.samples,
        temperature=generation.temperature,
        seed=settings.training.seed,
        prefix=prefix,
    )
    return task.read(samples, train_targets)


def validator(
    tokenizer: Any,
    validation: pd.DataFrame,
    train: pd.DataFrame,
    task: Task,
    settings: LiftSettings,
) -> Callable[[Any], dict[str, float]]:
    """The task's validation metrics of a model's answers on the validation prompts, answered
    as the test prompts will be but greedily where those are sampled or are scored numbers (an
    epoch is chosen on deterministic answers, at a fraction of the cost), unless
    ``generation.validation`` is ``as_test``. Scored classes also
    give the validation loss (``LOSS``): each row's own completion scored is the training loss
    of that row, so the trainer need not compute it in a pass of its own."""
    truth, train_targets = validation["target"].to_numpy(), train["target"].to_numpy()
    if settings.generation.validation == "greedy":
        greedy = {"samples": 1, "also_greedy": False}
        if not isinstance(task, Classification):
            greedy["mode"] = "generate"
        settings = settings.overridden({"generation": greedy})
    own = own_completions(tokenizer, validation["completion"], task)

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
        metrics = task.validation_metrics(truth, answers.predictions, answers.valid)
        if answers.scores is None or own is None:
            return metrics
        columns, tokens = own
        picked = answers.scores[np.arange(len(columns)), columns]
        return {**metrics, LOSS: -float(picked.sum()) / max(tokens, 1)}

    return validate


def own_completions(
    tokenizer: Any, completions: pd.Series, task: Task
) -> tuple[np.ndarray, int] | None:
    """Which of the task's scored completions each row's own is (a column of the scores) and
    their tokens with EOS, as the training loss counts them; None where the task scores none
    or a row's completion is not among them."""
    if not isinstance(task, Classification):
        return None
    column = {c: k for k, c in enumerate(task.completions)}
    if not completions.isin(list(column)).all():
        return None
    ids = tokenizer(list(completions), add_special_tokens=False).input_ids
    return completions.map(column).to_numpy(), sum(len(i) + 1 for i in ids)


def for_repeat(
    task: Task, encodings: Encodings | None, repeat: int, encoding: str | None = None
) -> Task:
    """``task`` reading answers written with ``repeat``'s encoding (if any; the one named
    ``encoding`` where a selection fitted several)."""
    return task.written_with(encodings.of(int(repeat), encoding)) if encodings else task


def written_with(prompts: pd.DataFrame, encoding: str | None) -> pd.DataFrame:
    """The prompts written with ``encoding`` (all of them where the prompts or the adapter
    name none)."""
    if encoding is None or "encoding" not in prompts.columns:
        return prompts
    chosen = prompts[prompts["encoding"] == encoding]
    if chosen.empty and not prompts.empty:
        raise DatasetInputError(
            f"The prompts hold none written with the `{encoding}` encoding (they hold "
            f"{sorted(prompts['encoding'].unique())}): serialize them again with the settings "
            "of this run (`lift.serialization.encoding`, `lift.selection.encoding`)."
        )
    return chosen


@dataclass(frozen=True)
class FineTuning:
    """What ``fine_tune`` fine-tunes for one dataset: its ``prompts`` (every repeat), the
    ``task`` that reads its answers, its ``settings``, the ``encodings`` the prompts were
    written with and the adapter a second stage ``start``s from."""

    dataset: str
    prompts: pd.DataFrame
    task: Task
    settings: LiftSettings
    encodings: Encodings | None = None
    start: TrainedAdapter | None = None


@dataclass(frozen=True)
class _Planned:
    """One adapter to train: a repeat of a dataset with one candidate setting, as the
    ``member``-th of its ensemble (``training.ensemble``: seed ``training.seed`` + ``member``)."""

    request: int
    repeat: int
    candidate: int
    member: int
    settings: LiftSettings
    description: str


def fine_tune(
    dataset: str,
    base: BaseModel,
    prompts: pd.DataFrame,
    task: Task,
    settings: LiftSettings,
    encodings: Encodings | None = None,
    start: TrainedAdapter | None = None,
) -> dict[int, TrainedAdapter]:
    """One adapter per repeat of ``prompts``, trained on its train rows (from ``start``'s
    weights where given: a second stage), its epoch chosen on its validation rows
    (``encodings``: the ones the prompts were written with). With a
    selection (``lift.selection``) every candidate setting is fine-tuned per repeat and the
    one with the best validation score kept (ties: the lower validation loss); the adapter
    records what was chosen and every candidate's outcome. With ``training.ensemble`` above 1
    each repeat trains that many adapters from consecutive seeds, the first one's ``members``
    the others (a candidate's score: their mean)."""
    request = FineTuning(dataset, prompts, task, settings, encodings, start)
    return fine_tune_together(base, [request])[0]


def fine_tune_together(
    base: BaseModel,
    requests: Sequence[FineTuning],
    slots: int | None = None,
    devices: Sequence[str] | None = None,
) -> list[dict[int, TrainedAdapter]]:
    """``fine_tune`` of every request (dataset), their adapters trained together on one base
    model, ``slots`` at a time (``fine_tuning.train_adapters``; ``None``: as many as memory
    holds): each adapter is what training it alone gives. Adapters whose base model differs (device,
    dtype, random weights of another seed) or whose LoRA shape differs train in separate
    groups. A group is shared out across ``devices`` (``language_model.training_devices``:
    every visible GPU by default), one process each. Returns each request's adapters by
    repeat."""
    planned = []
    for index, request in enumerate(requests):
        where = f"Dataset '{request.dataset}': parameter `lift."
        reject_inconsistent(request.settings, request.task.name, where)
        if request.start is not None and request.start.members:
            raise DatasetInputError(
                f"Dataset '{request.dataset}': a second stage starts from one adapter, but its "
                f"first stage trained an ensemble of {len(request.start.ensemble)}; set the first "
                "stage's `training.ensemble` to 1."
            )
        candidates = request.settings.candidates()
        for repeat in sorted(request.prompts["repeat"].unique()):
            for c, candidate in enumerate(candidates):
                label = " ".join(f"{k}={v}" for k, v in candidate.chosen().items())
                name = f"{request.dataset} ({label})" if len(candidates) > 1 else request.dataset
                training = candidate.training
                for member in range(training.ensemble):
                    which = f" seed {training.seed + member}" if training.ensemble > 1 else ""
                    description = f"{name} repeat {repeat}{which}"
                    planned.append(_Planned(index, int(repeat), c, member, candidate, description))
    trained: dict[int, TrainedAdapter] = {}  # by position in `planned`
    for group in _by_base_model(planned):
        places = training_devices(planned[group[0]].settings.device, devices)
        # round robin: every adapter is the one it would be alone, wherever it trains
        shares = [(place, group[k :: len(places)]) for k, place in enumerate(places)]
        shares = [(place, share) for place, share in shares if share]
        work = [
            (base, requests, [planned[i] for i in share], slots, place) for place, share in shares
        ]
        if len(work) == 1:
            results = [_train_share(*work[0])]
        else:
            logger.info(
                "LIFT: %d adapters shared out across %s", len(group), [p for p, _ in shares]
            )
            with ProcessPoolExecutor(
                len(work),
                mp_context=get_context("spawn"),
                initializer=share_cores,  # the processes share the CPU's cores
                initargs=(len(work),),
            ) as pool:
                futures = [pool.submit(_train_share, *args) for args in work]
                results = [future.result() for future in futures]
        for (_, share), adapters in zip(shares, results, strict=True):
            for i, adapter in zip(share, adapters, strict=True):
                trained[i] = adapter
                _log_kept(planned[i], requests[planned[i].request].task, adapter)
    return [
        _chosen(request, {i: p for i, p in enumerate(planned) if p.request == r}, trained)
        for r, request in enumerate(requests)
    ]


def _train_share(
    base: BaseModel,
    requests: Sequence[FineTuning],
    plans: list[_Planned],
    slots: int | None,
    device: str,
) -> list[TrainedAdapter]:
    """The adapters of ``plans`` trained together on ``device`` (in a process of its own
    where the group is shared out across devices)."""
    settings = plans[0].settings.overridden({"device": device})
    model, tokenizer = load_base(base, settings)
    jobs = [_job(tokenizer, requests[plan.request], plan) for plan in plans]
    checkpoints = None if base.checkpoints is None else Checkpoints(base.checkpoints)
    with precision(settings):
        adapters = train_adapters(model, tokenizer, jobs, settings.lora, slots, checkpoints)
    trained_on = precision_used(select_device(device), settings.dtype)
    return [replace(adapter, trained_on=trained_on) for adapter in adapters]


def _by_base_model(planned: list[_Planned]) -> list[list[int]]:
    """The positions of ``planned`` in groups that can share one loaded base model and LoRA
    shape."""
    groups: dict[str, list[int]] = {}
    for i, plan in enumerate(planned):
        settings = plan.settings
        seed = settings.training.seed if settings.weights == "random" else None
        key = json.dumps(
            [settings.device, settings.dtype, settings.weights, seed, settings.lora.to_json()]
        )
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _job(tokenizer: Any, request: FineTuning, plan: _Planned) -> Job:
    """The training job of ``plan``: its repeat's train and validation prompts (of its
    encoding), validated as the task says, seeded as its place in the ensemble says."""
    settings, encoding = plan.settings, plan.settings.chosen()["encoding"]
    if plan.member:
        seed = settings.training.seed + plan.member
        settings = settings.overridden({"training": {"seed": seed}})
    prompts = written_with(request.prompts, encoding)
    task = for_repeat(request.task, request.encodings, plan.repeat, encoding)
    train = of_split(prompts, plan.repeat, "train")
    validation = of_split(prompts, plan.repeat, "validation")
    return Job(
        (train["prompt"].tolist(), train["completion"].tolist()),
        (validation["prompt"].tolist(), validation["completion"].tolist()),
        validator(tokenizer, validation, train, task, settings),
        settings.training,
        select_on=task.select_on,
        maximize=task.maximize,
        description=plan.description,
        start=request.start,
        prior=task.prior_score(validation["target"].to_numpy()),
        # the collapse guard: another candidate setting is there to try instead
        give_up_at_prior=len(request.settings.candidates()) > 1,
        # what else decides the training and its validation answers: a kept state resumes
        # only this job
        identity=json.dumps(
            [
                settings.to_json(),
                repr(task),
                train["target"].tolist(),
                validation["target"].tolist(),
            ],
            default=str,
        ),
    )


def _log_kept(plan: _Planned, task: Task, adapter: TrainedAdapter) -> None:
    logger.info(
        "LIFT %s: epoch %d kept (validation %s %.4g, loss %.4f); trained on %s",
        plan.description,
        adapter.best_epoch,
        task.select_on,
        adapter.kept[f"validation_{task.select_on}"],
        adapter.kept["validation_loss"],
        ", ".join(f"{k} {v}" for k, v in adapter.trained_on.items()),
    )
    if adapter.status == "at_prior":
        logger.warning(
            "LIFT %s: after %d epochs its validation %s is no better than answering %s: "
            "it learnt the prior at most (the metrics say `lift_status: at_prior`). "
            "Train longer (`training.epochs`, `training.min_steps`), or let `lift.selection` "
            "try other learning rates or encodings.",
            plan.description,
            len(adapter.history),
            task.select_on,
            "the majority class" if task.maximize else "the mean",
        )


def _chosen(
    request: FineTuning, planned: Mapping[int, _Planned], trained: Mapping[int, TrainedAdapter]
) -> dict[int, TrainedAdapter]:
    """Per repeat of ``request``, the adapter of the candidate with the best validation score
    (ties: the lower validation loss; an ensemble's: its adapters' mean), its ensemble's other
    adapters its ``members``, recording what was chosen and every candidate's (and ensemble
    member's) outcome."""
    select_on = request.task.select_on
    tried = len({p.candidate for p in planned.values()})
    adapters = {}
    for repeat in sorted({p.repeat for p in planned.values()}):
        best, outcomes = None, []
        for candidate in sorted({p.candidate for p in planned.values() if p.repeat == repeat}):
            ensemble = [
                (p, trained[i])
                for i, p in sorted(planned.items(), key=lambda item: item[1].member)
                if p.repeat == repeat and p.candidate == candidate
            ]
            chosen = ensemble[0][0].settings.chosen()
            for plan, adapter in ensemble:
                seed = plan.settings.training.seed + plan.member
                outcomes.append(
                    {
                        **chosen,
                        **({"seed": seed} if len(ensemble) > 1 else {}),
                        "best_epoch": adapter.best_epoch,
                        "epochs_run": len(adapter.history),
                        f"validation_{select_on}": adapter.kept[f"validation_{select_on}"],
                        "validation_loss": adapter.kept["validation_loss"],
                        "status": adapter.status,
                    }
                )
            members = [adapter for _, adapter in ensemble]
            score = float(np.mean([a.kept[f"validation_{select_on}"] for a in members]))
            loss = float(np.mean([a.kept["validation_loss"] for a in members]))
            key = preference(score, loss, request.task.maximize)
            if best is None or key > best[0]:
                first, *others = (replace(a, chosen=chosen) for a in members)
                best = (key, replace(first, members=tuple(others)))
        assert best is not None
        adapters[repeat] = replace(best[1], candidates=outcomes)
        if tried > 1:
            logger.info(
                "LIFT %s repeat %d: %s chosen on validation among %d candidates",
                request.dataset,
                repeat,
                best[1].chosen,
                tried,
            )
    return adapters


@contextmanager
def merged(base: BaseModel, adapter: TrainedAdapter, settings: LiftSettings) -> Iterator[Any]:
    """The base model with ``adapter`` and its tokenizer, in the settings' precision; freed
    afterwards. Float32 weights take the adapter merged into them (as fast as the base
    model); lower-precision ones keep it beside them, as in training: merged, it would lose
    every update smaller than their rounding."""
    from peft.helpers import disable_input_dtype_casting

    model, tokenizer = load_base(base, settings)
    attached = None
    try:
        with precision(settings):
            attached = adapter.attach(model)
            if next(model.parameters()).dtype == torch.float32:
                attached = attached.merge_and_unload()
            # beside bfloat16 weights under autocast, the adapter's products take the bfloat16
            # input as it is (PEFT would cast it to the adapter's float32, autocast back)
            autocast_on = torch.is_autocast_enabled(model.device.type)
            with disable_input_dtype_casting(attached, active=autocast_on):
                yield attached, tokenizer
    finally:
        del model, attached
        release_memory()


def answer_prompts(
    base: BaseModel,
    adapter: TrainedAdapter,
    prompts: Sequence[str],
    train: pd.DataFrame,
    task: Task,
    settings: LiftSettings,
    description: str | None = None,
    loaded: tuple[Any, Any] | None = None,
) -> Answers:
    """``answer`` with the base model and ``adapter`` merged into its weights (an ensemble:
    each of its adapters', averaged); ``train`` is the adapter's training prompts (their
    completions and targets). ``loaded``: that model and its tokenizer, where the caller keeps
    them (``merged``) for many calls (an adapter without members); None: merged for this
    one."""
    if loaded and adapter.members:
        raise ValueError("An ensemble's adapters are merged one by one: pass no `loaded` model.")
    each = []
    for member in adapter.ensemble:
        held = nullcontext(loaded) if loaded else merged(base, member, settings)
        with held as (model, tokenizer), precision(settings):
            each.append(
                answer(
                    model,
                    tokenizer,
                    prompts,
                    train["completion"],
                    task,
                    train["target"].to_numpy(),
                    settings,
                    description,
                )
            )
    return averaged_answers(each)


def answer_rows(
    dataset: str,
    base: BaseModel,
    adapter: TrainedAdapter,
    repeat: int,
    rows: pd.DataFrame,
    schema: Mapping[str, Any],
    prompts: pd.DataFrame,
    task: Task,
    settings: LiftSettings,
    encodings: Encodings | None = None,
    description: str = "answer",
    loaded: tuple[Any, Any] | None = None,
) -> Answers:
    """The answers of ``repeat``'s ``adapter`` for table ``rows`` outside the splits (a grid
    of points): written as its prompts were (its encoding, fitted on that repeat's training
    rows) and read back as ``predict`` reads them. ``prompts`` are the run's own, for the
    adapter's training completions; ``rows`` need the schema's features only. ``loaded``:
    as for ``answer_prompts``."""
    encoding = adapter.chosen.get("encoding")  # the one its prompts were written with
    target = schema["target"]
    if target not in rows:  # the completions of these prompts are never used
        rows = rows.assign(**{target: 0})
    where = pd.DataFrame({"row": np.arange(len(rows)), "repeat": int(repeat), "split": "new"})
    written = serialize(
        rows.reset_index(drop=True),
        schema,
        where,
        settings.serialization,
        encodings.only(encoding) if encodings else None,
        dataset,
    )
    return answer_prompts(
        base,
        adapter,
        written["prompt"],
        of_split(written_with(prompts, encoding), repeat, "train"),
        for_repeat(task, encodings, repeat, encoding),
        settings,
        description=f"{dataset}: {description}",
        loaded=loaded,
    )


def prediction_rows(
    model: str, test: pd.DataFrame, repeat: int, answers: Answers, answered_by: str
) -> pd.DataFrame:
    """The prediction rows (``predict``'s columns) of ``model``'s ``answers`` to the ``test``
    prompts of ``repeat``."""
    return pd.DataFrame(
        {
            "model": model,
            "repeat": int(repeat),
            "row": test["row"].to_numpy(),
            "y_true": test["target"].to_numpy(),
            "y_pred": answers.predictions,
            "output": answers.texts,
            "valid": answers.valid,
            **probability_columns(answers.probabilities),
            **(
                {"sample_mean": answers.sample_mean, "sample_spread": answers.sample_spread}
                if answers.sample_spread is not None
                else {}
            ),
            "answers": answered_by,
        }
    )


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
    output, valid, answers`` (how they were produced: ``GenerationSettings.answered_by``),
    ``lift_status`` (the adapter's ``status``: ``at_prior`` where it learnt the prior only) and,
    for classes, ``proba_<k>`` (``y_pred`` is -1 for an invalid
    classification answer and the training mean for an invalid regression answer; numbers in
    the target's units, read back with ``encodings``; several sampled numbers per prompt add
    their ``sample_mean`` and ``sample_spread``). Each adapter answers the prompts of the
    encoding it was trained with.

    Sampled answers with ``generation.also_greedy`` add the rows of model ``lift_greedy``: the
    same adapter's greedy answers. Generated classes with ``generation.also_score`` add the
    rows of model ``lift_scored``: the same adapter's scored classes, so that both ways of
    answering are in one table. Scored classes (with ``generation.correct_prior``) add the
    rows of model ``lift_corrected``: the same scores with the class prior taken out as far
    as the validation rows say it helps (``lift.method.prior_correction``), and its
    ``prior_strength``. Two repeats or more (with ``generation.average_repeats``) add the rows
    of model ``lift_averaged``: every repeat's scored class probabilities, or numbers, averaged,
    an ensemble of the adapters, its rows under the first repeat."""
    reject_inconsistent(settings, task.name, f"Dataset '{dataset}': parameter `lift.")
    parts = []
    for repeat, adapter in sorted(adapters.items()):
        encoding = adapter.chosen.get("encoding")  # the one its prompts were written with
        answered = _predict_repeat(
            dataset,
            base,
            adapter,
            written_with(prompts, encoding),
            int(repeat),
            for_repeat(task, encodings, repeat, encoding),
            settings,
        )
        parts += [part.assign(lift_status=adapter.ensemble_status) for part in answered]
    predictions = pd.concat(parts, ignore_index=True)
    generation = settings.generation
    source = averaged_source(predictions, isinstance(task, Classification))
    if generation.average_repeats and source is not None and len(adapters) > 1:
        rows = averaged_repeats(source)
        logger.info("LIFT %s: %d adapters' answers averaged", dataset, len(adapters))
        predictions = pd.concat([predictions, rows], ignore_index=True)
    return predictions


def averaged_source(predictions: pd.DataFrame, classes: bool) -> pd.DataFrame | None:
    """The prediction rows that ``lift_averaged`` averages: the scored classes beside generated
    ones where there are (model ``lift_scored``), else LIFT's own answers (scored classes, or
    numbers); None for classes without probabilities (labels only: nothing to average)."""
    models = set(predictions["model"])
    source = LIFT_SCORED if LIFT_SCORED in models else LIFT
    rows = predictions[predictions["model"] == source].reset_index(drop=True)
    if classes and probabilities_of(rows) is None:
        return None
    return rows


def averaged_repeats(answered: pd.DataFrame) -> pd.DataFrame:
    """The rows of model ``lift_averaged`` (under the first repeat) from the prediction rows of
    several repeats that ``answered`` the same test rows: per row, the repeats' class
    probabilities averaged and the likeliest class, or (numbers) the mean of the valid
    answers, invalid only where every repeat's was (then the mean of their stand-ins, the
    training means). ``lift_status`` is ``at_prior`` where every repeat's adapter learnt the
    prior only, ``learnt`` where one learnt more."""
    by_row = answered.groupby("row", sort=False)
    truth = by_row["y_true"].first()
    status = joint_status(answered["lift_status"].fillna(""))  # "" where it is not known
    each = probabilities_of(answered)
    if each is None:  # numbers
        valid = answered["valid"].fillna(True).astype(bool)
        numbers = answered["y_pred"].astype(float)
        of_valid = numbers.where(valid).groupby(answered["row"], sort=False).mean()
        valid_rows = valid.groupby(answered["row"], sort=False).any()
        y_pred = of_valid.where(valid_rows, by_row["y_pred"].mean()).to_numpy()
        probabilities, valid_rows = None, valid_rows.to_numpy()
    else:
        probabilities = (
            pd.DataFrame(each, index=answered.index)
            .groupby(answered["row"], sort=False)
            .mean()
            .to_numpy()
        )
        y_pred, valid_rows = probabilities.argmax(axis=1), True
    how = answered["answers"].iloc[0]
    return pd.DataFrame(
        {
            "model": LIFT_AVERAGED,
            "repeat": int(answered["repeat"].min()),
            "row": truth.index.to_numpy(),
            "y_true": truth.to_numpy(),
            "y_pred": y_pred,
            "output": "",
            "valid": valid_rows,
            **probability_columns(probabilities),
            "answers": f"{how}, {answered['repeat'].nunique()} repeats averaged",
            "lift_status": status,
        }
    )


def _predict_repeat(
    dataset: str,
    base: BaseModel,
    adapter: TrainedAdapter,
    prompts: pd.DataFrame,
    repeat: int,
    task: Task,
    settings: LiftSettings,
) -> list[pd.DataFrame]:
    """``predict``'s rows of one repeat (an ensemble's: its adapters' answers averaged)."""
    train = of_split(prompts, repeat, "train")
    test = of_split(prompts, repeat, "test")
    generation = settings.generation
    scoring = settings.overridden({"generation": {"mode": "score"}})
    # what is asked: (split, settings, note) by name
    asked = {"test": ("test", settings, "")}
    if generation.also_greedy:
        greedy = settings.overridden({"generation": {"samples": 1}})
        asked["greedy"] = ("test", greedy, " (greedy)")
    if generation.mode == "generate" and generation.also_score:
        asked["scored"] = ("test", scoring, " (scored)")
    correct = (
        isinstance(task, Classification)
        and generation.scores_classes()
        and generation.correct_prior
    )
    if correct:
        asked["validation"] = ("validation", scoring, " (scored)")
    each: dict[str, list[Answers]] = {name: [] for name in asked}
    for k, member in enumerate(adapter.ensemble):
        which = f" (ensemble adapter {k + 1} of {len(adapter.ensemble)})" if adapter.members else ""
        with merged(base, member, settings) as (model, tokenizer):
            for name, (split, how, note) in asked.items():
                rows = of_split(prompts, repeat, split)
                each[name].append(
                    answer(
                        model,
                        tokenizer,
                        rows["prompt"],
                        train["completion"],
                        task,
                        train["target"].to_numpy(),
                        how,
                        f"{dataset} repeat {repeat}: predict {split}{note}{which}",
                    )
                )
    answers = {name: averaged_answers(got) for name, got in each.items()}
    parts = [prediction_rows(LIFT, test, repeat, answers["test"], generation.answered_by())]
    if "greedy" in answers:
        parts.append(prediction_rows(LIFT_GREEDY, test, repeat, answers["greedy"], "generate"))
    scored = answers.get("scored", answers["test"])
    if "scored" in answers:
        parts.append(prediction_rows(LIFT_SCORED, test, repeat, scored, "score"))
    if correct:
        assert scored.scores is not None
        validation = of_split(prompts, repeat, "validation")
        correction = fit_prior_correction(
            answers["validation"].scores, validation["target"].to_numpy()
        )
        logger.info(
            "LIFT %s repeat %d: prior correction of strength %g (validation accuracy %.4g -> %.4g)",
            dataset,
            repeat,
            correction.strength,
            correction.validation_accuracy,
            correction.corrected_validation_accuracy,
        )
        corrected = task.read_scores(scored.scores, correction)
        parts.append(
            prediction_rows(LIFT_CORRECTED, test, repeat, corrected, "score").assign(
                prior_strength=correction.strength
            )
        )
    return parts
