"""Batches of token sequences, for training and for inference alike: left padding (every
sequence ends at the last position, so a completion's logits are the batch's last ones) and
batches of similar lengths (little padding computed)."""

from __future__ import annotations

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
    """As many indices of ``answers`` as there are, every distinct answer (class) given the
    same share of them (up to one), in no particular order: a class of many rows gives a
    random subset of its rows, a class of few rows each of its rows as many times as its share
    holds, and a random subset once more for the rest. Where every class has as many rows, it
    is every index once."""
    rows: dict[Hashable, list[int]] = {}
    for i, answer in enumerate(answers):
        rows.setdefault(answer, []).append(i)
    classes = list(rows)
    share, extra = divmod(len(answers), len(classes))
    lucky = set(torch.randperm(len(classes), generator=generator)[:extra].tolist())
    drawn = []
    for k, answer in enumerate(classes):
        members = torch.tensor(rows[answer])
        quota = share + (k in lucky)
        whole, part = divmod(quota, len(members))
        drawn += members.repeat(whole).tolist()
        drawn += members[torch.randperm(len(members), generator=generator)[:part]].tolist()
    return drawn
