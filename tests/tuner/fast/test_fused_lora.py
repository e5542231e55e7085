"""The fused LoRA (tuner/fast/fused_lora.py) computes what PEFT's LoRA computes, dropout included."""

from __future__ import annotations

import pytest
import torch

from tests.tuner.fast.tiny_qwen import conversation, tiny_qwen2


def _peft_tiny(dropout: float):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(tiny_qwen2(seed=3), LoraConfig(r=4, lora_alpha=8, lora_dropout=dropout, task_type="CAUSAL_LM",
                                                          target_modules=["q_proj", "v_proj", "gate_proj", "down_proj"]))
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.05)
    return model.train()


def _loss_and_grads(model, ids, seed):
    torch.manual_seed(seed)
    logits = model(input_ids=ids, use_cache=False).logits
    loss = logits.float().logsumexp(-1).mean()
    model.zero_grad()
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


class _SixteenBitDropout(torch.nn.Dropout):
    """PEFT's dropout drawing the masks the fused branch draws on a CPU (16-bit lanes, not native_dropout's
    uniforms), so one seed gives both the same masks: inverted dropout, the kept entries scaled by 1/(1-p)."""

    def forward(self, x):
        from tuner.fast.fused_lora import _kept_unscaled

        return _kept_unscaled(x, self.p)[0] / (1 - self.p) if self.training else x


def test_fused_lora_equals_peft_lora_including_dropout():
    from tuner.fast.fused_lora import install_fused_lora

    model = _peft_tiny(dropout=0.3)
    for module in model.modules():
        if hasattr(module, "lora_dropout"):
            module.lora_dropout["default"] = _SixteenBitDropout(0.3)
    ids = torch.tensor([conversation(24, 9)["input_ids"]])
    plain_loss, plain_grads = _loss_and_grads(model, ids, seed=11)
    assert install_fused_lora(model) == 2 * 4
    fused_loss, fused_grads = _loss_and_grads(model, ids, seed=11)  # same seed: same dropout masks
    assert fused_loss == pytest.approx(plain_loss, rel=1e-6)
    for name, grad in plain_grads.items():
        torch.testing.assert_close(fused_grads[name], grad, rtol=1e-4, atol=1e-6)
    other_loss, _ = _loss_and_grads(model, ids, seed=12)
    assert other_loss != fused_loss  # dropout is really applied (a new seed, new masks)
    model.eval()
    with torch.no_grad():
        eval_logits = model(input_ids=ids, use_cache=False).logits
        model.train()
    with model.disable_adapter(), torch.no_grad():
        base_logits = model(input_ids=ids, use_cache=False).logits
    assert not torch.allclose(eval_logits, base_logits)  # the adapter still acts when fused
