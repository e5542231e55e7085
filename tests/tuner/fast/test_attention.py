"""Packed conversations do not attend to each other (tuner/fast/attention.py): changing conversation A leaves
B's logits unchanged, and B's logits in a pack equal B's logits alone, for both attention paths."""

from __future__ import annotations

import pytest
import torch

from tests.tuner.fast.tiny_qwen import VOCAB, conversation, tiny_qwen2
from tuner.fast.attention import ATTENTION_NAME, register_varlen_attention
from tuner.fast.packing import PackedCollator


@pytest.mark.parametrize("attn", ["sdpa", ATTENTION_NAME])
def test_packed_conversations_do_not_attend_to_each_other(attn):
    register_varlen_attention()
    model = tiny_qwen2(attn=attn)
    a, b, c = conversation(9, 1), conversation(7, 2), conversation(11, 3)
    collate = PackedCollator(pad_token_id=0)

    def logits(rows):
        batch = collate(rows)
        # use_cache=False as in training: with a cache transformers does not look for packed rows
        kwargs = {k: batch[k] for k in ("input_ids", "position_ids")} | {"use_cache": False}
        if attn == ATTENTION_NAME:
            kwargs.update({k: batch[k] for k in ("cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k")})
        with torch.no_grad():
            return model(**kwargs).logits[0]

    packed = logits([a, b, c])
    a_changed = dict(a, input_ids=[(t + 17) % VOCAB for t in a["input_ids"]])
    changed = logits([a_changed, b, c])
    assert not torch.allclose(packed[:9], changed[:9])  # A itself did change
    torch.testing.assert_close(packed[9:], changed[9:], rtol=0, atol=0)
    torch.testing.assert_close(packed[9:16], logits([b]), rtol=1e-5, atol=1e-5)  # B as if alone


def test_varlen_attention_without_boundaries_matches_plain_causal():
    register_varlen_attention()
    plain, fast = tiny_qwen2(attn="sdpa"), tiny_qwen2(attn=ATTENTION_NAME)
    ids = torch.tensor([conversation(12, 4)["input_ids"]])
    with torch.no_grad():
        torch.testing.assert_close(fast(input_ids=ids).logits, plain(input_ids=ids).logits)


def test_block_causal_mask_attention_equals_per_conversation_attention():
    """The loop-free form a compiled layer traces on CPU computes the same attention."""
    from tuner.fast.attention import _sdpa_block_causal, _sdpa_per_conversation

    torch.manual_seed(0)
    cu = torch.tensor([0, 5, 6, 19, 30], dtype=torch.int32)
    q = torch.randn(1, 4, 30, 8, dtype=torch.float64)
    k, v = torch.randn(2, 1, 2, 30, 8, dtype=torch.float64)
    torch.testing.assert_close(_sdpa_block_causal(q, k, v, cu, 0.3), _sdpa_per_conversation(q, k, v, cu, 0.3))


@pytest.mark.gpu
def test_flash_varlen_equals_per_conversation_sdpa_on_cuda():
    from tuner.fast.attention import _flash_varlen, _sdpa_per_conversation, varlen_kernel_available

    assert varlen_kernel_available(), "this PyTorch build has no FlashAttention varlen kernel"
    register_varlen_attention()  # settles the kernel's arguments once, outside any compiled region
    torch.manual_seed(0)
    cu = torch.tensor([0, 100, 130, 420, 421, 600], dtype=torch.int32, device="cuda")
    q = torch.randn(1, 8, 600, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    k = torch.randn(1, 2, 600, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn(1, 2, 600, 64, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    flash = _flash_varlen(q, k, v, cu, 290, 0.125)
    grads = torch.autograd.grad(flash.float().square().sum(), (q, k, v))
    reference = _sdpa_per_conversation(q.float(), k.float(), v.float(), cu, 0.125)
    ref_grads = torch.autograd.grad(reference.square().sum(), (q, k, v))
    assert (flash.float() - reference).norm() / reference.norm() < 1e-2
    for mine, theirs in zip(grads, ref_grads):
        assert (mine.float() - theirs.float()).norm() / theirs.float().norm() < 2e-2
