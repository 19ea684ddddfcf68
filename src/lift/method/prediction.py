"""What the fine-tuned model answers: generated text after the prompts (greedy by default,
several seeded samples per prompt when asked), or the log-probability of each of a few given
completions (the classes, or the numbers of a grid) after every prompt."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from lift.method.batching import by_length, left_pad

# the most prompt-completion pairs scored in one pass: each holds a copy of its prompt's
# key/value cache (the embedded model's: 23 KB a token in bfloat16) and logits over the
# vocabulary (0.2 MB a token in float32)
SCORED_PAIRS = 512


def stop_token_ids(tokenizer: Any) -> list[int]:
    """Generation stops at EOS or at a token that is a newline."""
    ids = {tokenizer.eos_token_id}
    newline = tokenizer("\n", add_special_tokens=False).input_ids
    if len(newline) == 1:
        ids.add(newline[0])
    return sorted(ids)


@torch.inference_mode()
def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int = 8,
    batch_size: int = 32,
    description: str | None = None,
    samples: int = 1,
    temperature: float = 1.0,
    seed: int = 0,
    prefix: str = "",
) -> list[list[str]]:
    """The continuations of every prompt, without special tokens, in the prompts' order:
    one greedy answer each (``samples=1``), or ``samples`` answers sampled at ``temperature``
    (seeded with ``seed``, so a run is reproducible).

    Prompts are batched by length (left padding) so that little padding is computed; each
    sequence stops at EOS or a newline, or after ``max_new_tokens`` tokens. A ``prefix``
    shared by every prompt (greedy answers only) is read once (``_after_prefix``).
    """
    from transformers import GenerationConfig

    if prefix:
        if int(samples) > 1:
            raise ValueError("a shared prefix is read once for greedy answers only")
        return _greedy_after_prefix(
            model, tokenizer, prefix, prompts, max_new_tokens, batch_size, description
        )
    sampling = int(samples) > 1
    config = GenerationConfig(
        max_new_tokens=int(max_new_tokens),
        do_sample=sampling,
        temperature=float(temperature) if sampling else None,
        top_k=None,
        top_p=None,
        num_return_sequences=int(samples),
        eos_token_id=stop_token_ids(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
    )
    if sampling:
        torch.manual_seed(int(seed))
    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    answers: list[list[str]] = [[] for _ in prompts]
    batches = by_length([len(p) for p in prompts], batch_size)
    progress = tqdm(batches, desc=description or "generate", leave=False, disable=not description)
    for chosen in progress:
        encoded = tokenizer([prompts[i] for i in chosen], return_tensors="pt", padding=True)
        encoded = encoded.to(device)
        output = model.generate(**encoded, generation_config=config)
        texts = tokenizer.batch_decode(
            output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True
        )
        # num_return_sequences keeps each prompt's answers together
        for k, text in enumerate(texts):
            answers[chosen[k // int(samples)]].append(text)
    return answers


def _cache_of(output: Any) -> Any:
    """The key/value cache a forward pass returned (``cache``, or ``past_key_values`` before
    transformers 5.2x)."""
    return output.cache if hasattr(output, "cache") else output.past_key_values


def _after_prefix(model: Any, tokenizer: Any, prefix: str) -> tuple[Callable[[int], Any], int]:
    """A prefix shared by every prompt, read once: a function giving a fresh copy of its
    key/value cache for a batch of n prompts, and its length in tokens. The prompts that
    follow it are tokenized without special tokens, left-padded between the prefix and
    themselves (the padding masked) and placed after it (positions from its length on)."""
    device = next(model.parameters()).device
    ids = tokenizer(prefix, return_tensors="pt").input_ids.to(device)
    read = _cache_of(model(input_ids=ids, use_cache=True))

    def for_batch(n: int) -> Any:
        cache = copy.deepcopy(read)
        cache.batch_repeat_interleave(n)
        return cache

    return for_batch, ids.shape[1]


def _continued(
    prompt_ids: Sequence[Sequence[int]], pad_id: int, after: int, device: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``left_pad`` of prompts that continue ``after`` tokens of a cached prefix: the
    attention mask covers the prefix too, the positions start after it."""
    input_ids, mask, positions = left_pad(prompt_ids, pad_id)
    mask = torch.cat([torch.ones((len(prompt_ids), after), dtype=mask.dtype), mask], dim=1)
    return input_ids.to(device), mask.to(device), (positions + after).to(device)


@torch.inference_mode()
def _greedy_after_prefix(
    model: Any,
    tokenizer: Any,
    prefix: str,
    prompts: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    description: str | None,
) -> list[list[str]]:
    """``generate``'s greedy answers to ``prompts`` that all follow ``prefix``, the prefix
    read once: the same answers as generating after ``prefix + prompt``, at the cost of the
    prompts alone."""
    device = next(model.parameters()).device
    cache_argument = _cache_argument(model)
    stops = torch.tensor(stop_token_ids(tokenizer), device=device)
    fresh_cache, after = _after_prefix(model, tokenizer, prefix)
    prompt_ids = tokenizer(list(prompts), add_special_tokens=False).input_ids
    answers: list[list[str]] = [[] for _ in prompts]
    batches = by_length([len(p) for p in prompt_ids], batch_size)
    progress = tqdm(batches, desc=description or "generate", leave=False, disable=not description)
    for chosen in progress:
        input_ids, mask, positions = _continued(
            [prompt_ids[i] for i in chosen], tokenizer.pad_token_id, after, device
        )
        cache, done = fresh_cache(len(chosen)), torch.zeros(len(chosen), dtype=torch.bool)
        tokens = []
        for _ in range(int(max_new_tokens)):
            output = model(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=positions,
                **{cache_argument: cache},
                use_cache=True,
                logits_to_keep=1,
            )
            cache = _cache_of(output)
            token = output.logits[:, -1].argmax(dim=-1)
            token = torch.where(done.to(device), tokenizer.pad_token_id, token)
            tokens.append(token)
            done |= torch.isin(token, stops).cpu()
            if done.all():
                break
            input_ids, positions = token[:, None], positions[:, -1:] + 1
            mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=1)
        texts = tokenizer.batch_decode(torch.stack(tokens, dim=1), skip_special_tokens=True)
        for k, text in zip(chosen, texts, strict=True):
            answers[k].append(text)
    return answers


def _cache_argument(model: Any) -> str:
    """The name under which the model's forward takes a key-value cache: ``cache`` from
    transformers 5.2x (``past_key_values`` deprecated there), ``past_key_values`` before. A
    PEFT model passes it through to its base model, whose forward says which."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


@torch.inference_mode()
def score_completions(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    completions: Sequence[str],
    batch_size: int = 32,
    description: str | None = None,
    prefix: str = "",
) -> np.ndarray:
    """``log P(completion + EOS | prompt)`` for every prompt (rows) and completion (columns),
    the completions tokenized as in training. A ``prefix`` shared by every prompt (in-context
    demonstrations) is read once (``_after_prefix``): ``log P(completion + EOS | prefix +
    prompt)`` at the cost of the prompts alone.

    One forward pass over each batch of prompts, extended by the tokens all completions share,
    fills the key/value cache; the completions' remaining tokens then go through the model
    together, each prompt's cache repeated once per completion. For a few short completions
    (classes) the cost is about one forward pass over the prompts; the completions' own tokens
    grow with their number (a grid of numbers: several times one pass), and at most
    ``SCORED_PAIRS`` prompt-completion pairs go through at once, so many completions take
    fewer prompts at a time.
    """
    eos = tokenizer.eos_token_id
    encoded = tokenizer(list(completions), add_special_tokens=False).input_ids
    tails = [[*ids, eos] for ids in encoded]
    shared = 0
    while all(len(t) > shared + 1 and t[shared] == tails[0][shared] for t in tails):
        shared += 1
    shared_ids, tails = tails[0][:shared], [t[shared:] for t in tails]
    n_tails, width = len(tails), max(map(len, tails))
    tail_ids = torch.full((n_tails, width), tokenizer.pad_token_id, dtype=torch.long)
    tail_mask = torch.zeros((n_tails, width), dtype=torch.long)
    for k, tail in enumerate(tails):
        tail_ids[k, : len(tail)], tail_mask[k, : len(tail)] = torch.tensor(tail), 1
    device = next(model.parameters()).device
    cache_argument = _cache_argument(model)
    tail_ids, tail_mask = tail_ids.to(device), tail_mask.to(device)
    fresh_cache, read = _after_prefix(model, tokenizer, prefix) if prefix else (None, 0)
    prompt_ids = tokenizer(list(prompts), add_special_tokens=not prefix).input_ids
    scores = np.zeros((len(prompts), n_tails))
    batch_size = max(1, min(batch_size, SCORED_PAIRS // n_tails))
    batches = by_length([len(p) for p in prompts], batch_size)
    progress = tqdm(batches, desc=description or "score", leave=False, disable=not description)
    for chosen in progress:
        input_ids, mask, positions = _continued(
            [prompt_ids[i] + shared_ids for i in chosen], tokenizer.pad_token_id, read, device
        )
        out = model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            **({cache_argument: fresh_cache(len(chosen))} if fresh_cache else {}),
            use_cache=True,
            logits_to_keep=len(shared_ids) + 1,
        )
        # predicts the tokens the completions share, then a tail
        logp = torch.log_softmax(out.logits.float(), dim=-1)
        shared_targets = input_ids[:, input_ids.shape[1] - len(shared_ids) :, None]
        shared_logp = logp[:, :-1].gather(-1, shared_targets).sum((1, 2))
        first = logp[:, -1, tail_ids[:, 0]] + shared_logp[:, None]
        scores[chosen] = first.cpu().numpy()
        if width == 1:  # every completion is one token (after the shared ones)
            continue
        cache = _cache_of(out)
        cache.batch_repeat_interleave(n_tails)
        after = model(
            input_ids=tail_ids[:, :-1].repeat(len(chosen), 1),
            attention_mask=torch.cat(
                [mask.repeat_interleave(n_tails, dim=0), tail_mask[:, :-1].repeat(len(chosen), 1)],
                dim=1,
            ),
            position_ids=positions[:, -1:].repeat_interleave(n_tails, dim=0)
            + torch.arange(1, width, device=device),
            **{cache_argument: cache},
            use_cache=False,
        )
        rest = torch.log_softmax(after.logits.float(), dim=-1)
        targets = tail_ids[:, 1:].repeat(len(chosen), 1)
        picked = rest.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        picked = (picked * tail_mask[:, 1:].repeat(len(chosen), 1)).sum(dim=1)
        scores[chosen] += picked.reshape(len(chosen), n_tails).cpu().numpy()
    return scores
