"""The chunked head (tuner/fast/head.py) scores the same targets whichever way it finds them."""

from __future__ import annotations

import pytest

from tests.tuner.fast.tiny_qwen import conversation, tiny_qwen2
from tuner.fast.packing import IGNORE_INDEX, PackedCollator


def test_chunked_head_reads_collator_positions_or_the_label_mask_alike():
    """Target positions found on the CPU by the collator select exactly what the GPU-side mask does."""
    from tuner.fast.head import install_chunked_head

    model = tiny_qwen2()
    install_chunked_head(model, chunk_tokens=16)
    rows = [conversation(n, seed) for seed, n in enumerate([21, 34, 12])]
    with_positions = PackedCollator(pad_token_id=0, target_positions=True)(rows)
    without = PackedCollator(pad_token_id=0)(rows)
    labels = with_positions["labels"][0, 1:]
    assert with_positions["hearth_target_positions"].tolist() == (labels != IGNORE_INDEX).nonzero().flatten().tolist()
    assert "hearth_target_positions" not in without
    a, b = model(**with_positions, hearth_loss=True), model(**without, hearth_loss=True)
    assert a.num_tokens.item() == b.num_tokens.item() == (labels != IGNORE_INDEX).sum().item()
    assert a.loss_sum.item() == pytest.approx(b.loss_sum.item(), rel=1e-6) and a.num_correct == b.num_correct
