"""Left padding and length batching, shared by training and inference."""

from collections import Counter

import torch

from lift.method.batching import balanced, by_length, left_pad, length_grouped


def test_left_pad_ends_every_sequence_at_the_last_position():
    input_ids, mask, positions = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert input_ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert positions.tolist() == [[0, 1, 2], [0, 0, 0]]


def test_by_length_sorts_then_cuts_keeping_every_index_once():
    lengths = [5, 1, 4, 2, 3]
    assert by_length(lengths, 2) == [[1, 3], [4, 2], [0]]


def test_length_grouped_batches_cover_every_example_once_with_little_padding():
    lengths = [3, 30, 4, 31, 5, 29, 3, 32] * 4
    batches = length_grouped(lengths, 4, torch.Generator().manual_seed(0), window=8)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(max(lengths[i] for i in b) - min(lengths[i] for i in b) <= 3 for b in batches)
    again = length_grouped(lengths, 4, torch.Generator().manual_seed(0), window=8)
    assert batches == again


def test_balanced_draws_every_answer_about_equally_as_many_times_as_there_are_rows():
    answers = ["no"] * 180 + ["yes"] * 20
    drawn = balanced(answers, torch.Generator().manual_seed(0))
    assert len(drawn) == len(answers) and all(0 <= i < len(answers) for i in drawn)
    shares = Counter(answers[i] for i in drawn)
    assert 80 <= shares["yes"] <= 120  # 100 expected; 20 without balancing
    # the 20 rows of the small class are each drawn about 5 times: none left out for long
    assert len({i for i in drawn if answers[i] == "yes"}) >= 15
    assert drawn == balanced(answers, torch.Generator().manual_seed(0))
