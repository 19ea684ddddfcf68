"""What the fine-tuned model answers: generated text after the prompts (greedy by default,
several seeded samples per prompt when asked), or the log-probability of each of a few given
completions (the classes) after every prompt."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from lift.batching import by_length, left_pad


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
) -> list[list[str]]:
    """The continuations of every prompt, without special tokens, in the prompts' order:
    one greedy answer each (``samples=1``), or ``samples`` answers sampled at ``temperature``
    (seeded with ``seed``, so a run is reproducible).

    Prompts are batched by length (left padding) so that little padding is computed; each
    sequence stops at EOS or a newline, or after ``max_new_tokens`` tokens.
    """
    from transformers import GenerationConfig

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
) -> np.ndarray:
    """``log P(completion + EOS | prompt)`` for every prompt (rows) and completion (columns),
    the completions tokenized as in training.

    One forward pass over each batch of prompts, extended by the tokens all completions share,
    fills the key/value cache; the completions' remaining tokens then go through the model
    together, each prompt's cache repeated once per completion. The cost is about one forward
    pass over the prompts, whatever the number of completions.
    """
    eos = tokenizer.eos_token_id
    encoded = tokenizer(list(completions), add_special_tokens=False).input_ids
    tails = [[*ids, eos] for ids in encoded]
    shared = 0
    while all(len(t) > shared + 1 and t[shared] == tails[0][shared] for t in tails):
        shared += 1
    prefix, tails = tails[0][:shared], [t[shared:] for t in tails]
    n_tails, width = len(tails), max(map(len, tails))
    tail_ids = torch.full((n_tails, width), tokenizer.pad_token_id, dtype=torch.long)
    tail_mask = torch.zeros((n_tails, width), dtype=torch.long)
    for k, tail in enumerate(tails):
        tail_ids[k, : len(tail)], tail_mask[k, : len(tail)] = torch.tensor(tail), 1
    device = next(model.parameters()).device
    cache_argument = _cache_argument(model)
    tail_ids, tail_mask = tail_ids.to(device), tail_mask.to(device)
    prompt_ids = tokenizer(list(prompts)).input_ids
    scores = np.zeros((len(prompts), n_tails))
    batches = by_length([len(p) for p in prompts], batch_size)
    progress = tqdm(batches, desc=description or "score", leave=False, disable=not description)
    for chosen in progress:
        input_ids, mask, positions = left_pad(
            [prompt_ids[i] + prefix for i in chosen], tokenizer.pad_token_id
        )
        input_ids, mask, positions = input_ids.to(device), mask.to(device), positions.to(device)
        out = model(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=len(prefix) + 1,
        )
        logp = torch.log_softmax(out.logits.float(), dim=-1)  # predicts the prefix, then a tail
        shared_ids = input_ids[:, input_ids.shape[1] - len(prefix) :, None]
        shared_logp = logp[:, :-1].gather(-1, shared_ids).sum((1, 2))
        first = logp[:, -1, tail_ids[:, 0]] + shared_logp[:, None]
        scores[chosen] = first.cpu().numpy()
        if width == 1:  # every completion is one token (after the shared ones)
            continue
        cache = out.cache if hasattr(out, "cache") else out.past_key_values
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
