"""Batches of token sequences, for training and for inference alike: left padding (every
sequence ends at the last position, so a completion's logits are the batch's last ones) and
batches of similar lengths (little padding computed)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence

import torch


def left_pad(
    sequences: Sequence[Sequence[int]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Token sequences as one left-padded batch (every sequence ends at the last position):
    ``input_ids``, ``attention_mask`` and ``position_ids`` (counting real tokens only)."""
    length = max(map(len, sequences))
    input_ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for i, sequence in enumerate(sequences):
        input_ids[i, length - len(sequence) :] = torch.tensor(sequence, dtype=torch.long)
        attention_mask[i, length - len(sequence) :] = 1
    return input_ids, attention_mask, (attention_mask.cumsum(dim=1) - 1).clamp(min=0)


def by_length(lengths: Sequence[int], size: int) -> list[list[int]]:
    """Indices of ``lengths`` sorted by length and cut into batches of ``size`` (inference:
    the order does not matter, padding does)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[s : s + int(size)] for s in range(0, len(order), int(size))]


def length_grouped(
    lengths: Sequence[int], size: int, generator: torch.Generator, window: int = 32
) -> list[list[int]]:
    """Batches of example indices with little padding, in random order (training): the
    examples are shuffled, sorted by length within windows of ``window`` batches, cut into
    batches of ``size``, and the batches shuffled (every example once, as in a shuffled
    epoch)."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    span = size * window
    grouped = [
        i
        for start in range(0, len(order), span)
        for i in sorted(order[start : start + span], key=lambda i: lengths[i])
    ]
    batches = [grouped[s : s + size] for s in range(0, len(grouped), size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


def balanced(answers: Sequence[Hashable], generator: torch.Generator) -> list[int]:
    """As many indices of ``answers`` as there are, drawn with replacement so that every
    distinct answer is equally likely (a class of few rows is drawn as often as the largest)."""
    counts = Counter(answers)
    weights = torch.tensor([1.0 / counts[a] for a in answers], dtype=torch.float64)
    return torch.multinomial(weights, len(answers), True, generator=generator).tolist()
