"""Training throughput: the project's trainer against LIFT's original loop on the default
run's training prompts, and the model-FLOPs utilization of the project's trainer."""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import torch
from peft import get_peft_model
from transformers import get_linear_schedule_with_warmup

from lift.config.lift import LiftSettings, LoraSettings
from lift.data.splits import of_split
from lift.method.fine_tuning import encode, train_adapter
from lift.method.language_model import BaseModel, cpu_has_bf16, linear_weights
from lift.method.learner import load_base, precision

from .machine import DATASETS, log, sync
from .report import NAIVE_BATCH


def training_flops(model: Any, examples: Sequence[Any]) -> float:
    """Model FLOPs of one LoRA training step over ``examples``: twice the forward pass (the
    backward pass computes input gradients; the frozen weights need none), the forward pass
    being the linear layers on every token, attention over the sequence and the LM head on the
    completion tokens. LoRA's own small products are not counted."""
    config = model.config
    linear = linear_weights(model)
    attention_width = config.num_attention_heads * (
        getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    )
    total = 0.0
    for example in examples:
        tokens = len(example.prompt_ids) + len(example.completion_ids)
        forward = 2 * linear * tokens
        forward += 4 * config.num_hidden_layers * tokens**2 * attention_width
        forward += 2 * config.hidden_size * config.vocab_size * len(example.completion_ids)
        total += 2 * forward
    return total


def naive_epoch(
    model: Any, tokenizer: Any, prompts: list[str], completions: list[str], seed: int
) -> tuple[int, float]:
    """LIFT's original training loop, one epoch: the whole dataset tokenized with padding to
    its longest sequence, the model's own loss (logits over the vocabulary at every position)
    with the prompt and padding masked, AdamW with warm-up, float32. Returns the non-padding
    tokens and the seconds."""

    torch.manual_seed(seed)
    peft_model = get_peft_model(model, LoraSettings().peft_config())
    peft_model.train()
    eos = tokenizer.eos_token
    tokenizer.padding_side = "left"
    texts = [p + c + eos for p, c in zip(prompts, completions, strict=True)]
    encoded = tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
    completion_lengths = [
        len(tokenizer(c + eos, add_special_tokens=False).input_ids) for c in completions
    ]
    labels = encoded.input_ids.clone()
    for i, n in enumerate(completion_lengths):
        labels[i, :-n] = -100
    parameters = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=2e-3)
    steps = math.ceil(len(texts) / NAIVE_BATCH)
    scheduler = get_linear_schedule_with_warmup(optimizer, steps // 10, steps)
    device = next(peft_model.parameters()).device
    order = torch.randperm(len(texts)).tolist()

    def step(rows: list[int]) -> None:
        loss = peft_model(
            input_ids=encoded.input_ids[rows].to(device),
            attention_mask=encoded.attention_mask[rows].to(device),
            labels=labels[rows].to(device),
        ).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()

    batches = [order[s : s + NAIVE_BATCH] for s in range(0, len(order), NAIVE_BATCH)]
    for rows in batches[:3]:  # warm-up, as for the project's trainer
        step(rows)
    sync(device)
    started = time.perf_counter()
    for rows in batches:
        step(rows)
    sync(device)
    return int(encoded.attention_mask.sum()), time.perf_counter() - started


def project_epoch(
    base: Any,
    settings: Any,
    train: tuple[list[str], list[str]],
    validation: tuple[list[str], list[str]],
) -> tuple[dict[str, float], float]:
    """One epoch of the project's trainer with ``settings``: its history entry and the wall
    seconds of the call (a compilation included)."""

    model, tokenizer = load_base(base, settings)
    started = time.perf_counter()
    with precision(settings):
        adapter = train_adapter(
            model,
            tokenizer,
            train,
            validation,
            lambda _: {"accuracy": 0.0},
            settings.lora,
            settings.overridden({"training": {"epochs": 1}}).training,
            description="bench: project trainer",
        )
    return adapter.history[0], time.perf_counter() - started


# the project's trainers measured: the run's settings, eager (as `compile: auto` trains one
# epoch, too little work to pay for a compilation, in a process that has not compiled), the
# same with its blocks compiled, and where the CPU multiplies bfloat16 natively the previous
# default (`dtype: mixed`: float32 weights, bfloat16 products under autocast)
EAGER = {"training": {"compile": False}}
TRAINERS: dict[str, dict[str, Any]] = {
    "ours": EAGER,
    "compiled": {"training": {"compile": True}},
    "previous": {"dtype": "mixed", **EAGER},
}


def training_benchmark(catalog: Any, peaks: dict[str, Any]) -> dict[str, Any]:
    """The project's trainers against the naive loop on the default run's training prompts:
    tokens and examples per second, model FLOPs per second and their share of each peak."""
    base = BaseModel.from_dict(catalog.load("base_model"))
    # inductor's cache in a fresh folder: the compilation measured as a first run pays it
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-inductor-")
    results: dict[str, Any] = {"datasets": {}}
    trainers = {k: v for k, v in TRAINERS.items() if k != "previous" or cpu_has_bf16()}
    kinds = [*trainers, "naive"]
    tokens, seconds = dict.fromkeys(kinds, 0), dict.fromkeys(kinds, 0.0)
    flops = 0.0
    for name in DATASETS:
        prompts = catalog.load(f"classification.{name}.prompts")
        run_settings = catalog.load(f"classification.{name}.settings").lift
        train = of_split(prompts, 0, "train")
        pairs = (train["prompt"].tolist(), train["completion"].tolist())
        validation = of_split(prompts, 0, "validation").head(8)
        validation_pairs = (validation["prompt"].tolist(), validation["completion"].tolist())
        warm_up = 3 * run_settings.training.batch_size
        measured, first_calls = {}, {}
        for trainer, overrides in trainers.items():
            settings = run_settings.overridden(overrides)
            log(f"training throughput, {name}: the project's trainer ({trainer})")
            _, first_calls[trainer] = project_epoch(
                base, settings, (pairs[0][:warm_up], pairs[1][:warm_up]), validation_pairs
            )
            epoch, _ = project_epoch(base, settings, pairs, validation_pairs)
            measured[trainer] = (epoch["train_tokens"], epoch["train_seconds"])
        log(f"training throughput, {name}: the naive loop")
        model, tokenizer = load_base(base, LiftSettings(dtype="float32"))
        measured["naive"] = naive_epoch(model, tokenizer, *pairs, seed=0)
        flops += training_flops(model, encode(tokenizer, *pairs))
        results["datasets"][name] = {
            "examples": len(train),
            "tokens": measured["naive"][0],
        }
        if name == DATASETS[0]:  # the compiled trainer's first call over the eager one's: the
            # compilation, with an empty cache; the later datasets reuse it
            results["compile_seconds"] = first_calls["compiled"] - first_calls["ours"]
        for kind, (n, s) in measured.items():
            results["datasets"][name].update(
                {
                    f"{kind}_seconds": s,
                    f"{kind}_tokens_per_second": n / s,
                    f"{kind}_examples_per_second": len(train) / s,
                }
            )
            tokens[kind] += n
            seconds[kind] += s
    examples = sum(d["examples"] for d in results["datasets"].values())
    for kind in kinds:
        results[f"{kind}_tokens_per_second"] = tokens[kind] / seconds[kind]
        results[f"{kind}_examples_per_second"] = examples / seconds[kind]
    for kind in trainers:
        flops_per_second = flops / seconds[kind]
        prefix = "" if kind == "ours" else f"{kind}_"
        results[f"{prefix}model_flops_per_second"] = flops_per_second
        results[f"{prefix}train_mfu"] = flops_per_second / peaks["fp32_peak_flops"]
        results[f"{prefix}train_mfu_bf16"] = flops_per_second / peaks["bf16_peak_flops"]
    results["train_speedup"] = seconds["naive"] / seconds["ours"]
    results["compiled_speedup"] = seconds["ours"] / seconds["compiled"]
    if "previous" in trainers:
        results["previous_speedup"] = seconds["previous"] / seconds["ours"]
    return results
