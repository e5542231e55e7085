"""Packing (tuner/fast/packing.py): every row exactly once, budgets respected, positions restart, boundary
labels ignored."""

from __future__ import annotations

import random

from tests.tuner.fast.tiny_qwen import conversation
from tuner.fast.packing import IGNORE_INDEX, PackedCollator, TokenBudgetBatchSampler, pack_by_budget


def test_pack_by_budget_places_every_row_once_within_budget():
    rng = random.Random(3)
    lengths = [rng.randint(20, 512) for _ in range(300)] + [700]  # one row longer than the budget
    packs = pack_by_budget(lengths, 2048)
    placed = sorted(i for pack in packs for i in pack)
    assert placed == list(range(len(lengths)))
    for pack in packs:
        assert sum(lengths[i] for i in pack) <= 2048 or len(pack) == 1
    fill = sum(lengths) / (2048 * len(packs))
    assert fill > 0.95  # best-fit decreasing leaves little room unused


def test_batch_sampler_reshuffles_packs_per_epoch_but_keeps_them():
    sampler = TokenBudgetBatchSampler([100] * 40, 400, seed=5)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    assert len(first) == len(sampler) == 10
    assert first != second
    assert sorted(map(sorted, first)) == sorted(map(sorted, second))


def test_collator_restarts_positions_and_ignores_boundary_labels():
    rows = [conversation(5, 1), conversation(4, 2), conversation(6, 3)]
    rows[1]["labels"] = list(rows[1]["input_ids"])  # even a fully-labelled row loses its first label
    batch = PackedCollator(pad_token_id=0, pad_to_multiple_of=8)(rows)
    assert batch["input_ids"].shape == (1, 16)
    assert batch["position_ids"][0].tolist() == [0, 1, 2, 3, 4, 0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 0]
    assert batch["cu_seq_lens_q"].tolist() == [0, 5, 9, 15, 16]
    assert batch["max_length_q"] == 6
    labels = batch["labels"][0]
    assert labels[[0, 5, 9, 15]].tolist() == [IGNORE_INDEX] * 4
    assert labels[6:9].tolist() == rows[1]["input_ids"][1:]
