"""Chunked cross-entropy equals F.cross_entropy, in value and gradients (tuner/fast/chunked_loss.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tuner.fast.chunked_loss import chunked_cross_entropy


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_chunked_loss_equals_cross_entropy_with_gradients(chunk):
    torch.manual_seed(1)
    hidden = torch.randn(45, 24, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(101, 24, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(101, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 101, (45,))
    loss, hits = chunked_cross_entropy(hidden, weight, targets, bias=bias, chunk_tokens=chunk)
    (loss * 0.37).backward()

    ref_inputs = [t.detach().clone().requires_grad_() for t in (hidden, weight, bias)]
    logits = ref_inputs[0] @ ref_inputs[1].t() + ref_inputs[2]
    reference = F.cross_entropy(logits, targets, reduction="sum")
    (reference * 0.37).backward()

    assert loss.item() == pytest.approx(reference.item(), rel=1e-6)
    assert hits.item() == (logits.argmax(-1) == targets).sum().item()
    for mine, theirs in zip((hidden, weight, bias), ref_inputs):
        torch.testing.assert_close(mine.grad, theirs.grad, rtol=1e-5, atol=1e-5)


def test_chunked_loss_on_no_targets_is_zero_and_differentiable():
    hidden = torch.randn(0, 8, requires_grad=True)
    loss, hits = chunked_cross_entropy(hidden, torch.randn(10, 8), torch.zeros(0, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0.0 and hits.item() == 0 and hidden.grad is not None
