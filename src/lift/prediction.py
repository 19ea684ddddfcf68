"""Batched generation after the prompts: what the fine-tuned model answers. Greedy by default;
several sampled answers per prompt (seeded) when asked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tqdm.auto import tqdm


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
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    answers: list[list[str]] = [[] for _ in prompts]
    starts = range(0, len(order), int(batch_size))
    for start in tqdm(starts, desc=description or "generate", leave=False, disable=not description):
        chosen = order[start : start + int(batch_size)]
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
