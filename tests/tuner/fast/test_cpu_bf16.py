"""`fast.cpu_bf16` (tuner/fast/cpu_bf16.py): where it turns on, and that a step under it really multiplies in bf16
while the loss, the gradients and the dropout stay what fp32's are, within bf16's rounding."""

from __future__ import annotations

import pytest
import torch

from hearth.errors import UserError
from tests.tuner.fast.tiny_qwen import conversation, lora_trainer, tiny_qwen2
from tuner.fast.attention import _sdpa_per_conversation
from tuner.fast.cpu_bf16 import cpu_attention_in_fp32, cpu_has_native_bf16, wants_cpu_bf16
from tuner.fast.plan import choose_fast_path
from tuner.fast.settings import FastSettings


def test_the_setting_is_a_switch_and_auto_follows_the_cpu_flags(tmp_path, monkeypatch):
    assert FastSettings(cpu_bf16=False).cpu_bf16 == "off"  # YAML's bare off
    with pytest.raises(UserError, match="fast.cpu_bf16"):
        FastSettings(cpu_bf16="fast")
    zen4 = tmp_path / "zen4"
    zen4.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n")
    old = tmp_path / "old"
    old.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f\n")
    assert cpu_has_native_bf16(str(zen4)) and not cpu_has_native_bf16(str(old))
    assert not cpu_has_native_bf16(str(tmp_path / "missing"))

    monkeypatch.setattr("tuner.fast.cpu_bf16.cpu_has_native_bf16", lambda: True)
    assert wants_cpu_bf16("auto", torch.float32, has_cuda=False)
    assert not wants_cpu_bf16("off", torch.float32, has_cuda=False)
    assert not wants_cpu_bf16("auto", torch.bfloat16, has_cuda=False)  # a bf16 model runs in its own dtype
    assert not wants_cpu_bf16("on", torch.float32, has_cuda=True)  # CUDA: the recipe's dtype decides
    monkeypatch.setattr("tuner.fast.cpu_bf16.cpu_has_native_bf16", lambda: False)
    assert not wants_cpu_bf16("auto", torch.float32, has_cuda=False)
    assert wants_cpu_bf16("on", torch.float32, has_cuda=False)

    model = tiny_qwen2()
    on = choose_fast_path(FastSettings(cpu_bf16="on"), model, has_cuda=False)
    assert on.cpu_bf16 and "CPU bf16 autocast on" in on.describe()
    assert not choose_fast_path(FastSettings(cpu_bf16="off"), model, has_cuda=False).cpu_bf16


def _step(cpu_bf16: str, tmp_path, seen: list):
    rows = [conversation(n, seed) for seed, n in enumerate([23, 40, 17])]
    trainer, model = lora_trainer(True, torch.float32, rows, tmp_path / cpu_bf16, cpu_bf16=cpu_bf16)
    q_proj = model.get_base_model().model.layers[0].self_attn.q_proj  # PEFT's LoRA layer around the frozen one
    q_proj.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    model.train()
    with trainer.compute_loss_context_manager():  # what training, evaluation and the probes enter
        loss = trainer.compute_loss(model, batch)
    loss.backward()
    seen.append("_hearth_bf16_weight" in q_proj.base_layer.__dict__)  # the frozen product ran from its bf16 copy
    seen.append("_hearth_bf16_weight" in model.get_output_embeddings().__dict__)  # and the frozen head
    seen.append(q_proj.base_layer.weight.dtype)  # no fp32 original kept beside the bf16 one
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad])
    return loss.item(), grads


def test_a_step_under_cpu_bf16_multiplies_in_bf16_and_keeps_the_loss_and_gradients(tmp_path):
    fp32_dtypes, bf16_dtypes = [], []
    fp32_loss, fp32_grads = _step("off", tmp_path, fp32_dtypes)
    bf16_loss, bf16_grads = _step("on", tmp_path, bf16_dtypes)
    # The setting takes effect: a bf16 product, its adapter update added in fp32 (the layer's output is fp32).
    assert fp32_dtypes == [torch.float32, False, False, torch.float32]
    assert bf16_dtypes == [torch.float32, True, True, torch.bfloat16]
    assert bf16_grads.dtype == torch.float32  # the adapter and its gradients stay fp32
    assert bf16_loss == pytest.approx(fp32_loss, rel=1e-2)
    assert torch.nn.functional.cosine_similarity(bf16_grads, fp32_grads, dim=0) > 0.99


def test_fused_lora_under_cpu_bf16_drops_out_like_dropout_and_backpropagates_through_the_same_mask(monkeypatch):
    from tuner.fast import fused_lora

    masks = []
    kept_unscaled = fused_lora._kept_unscaled
    monkeypatch.setattr(fused_lora, "_kept_unscaled", lambda x, p: masks.append(kept_unscaled(x, p)) or masks[-1])
    torch.manual_seed(0)
    p, scale = 0.25, 2.0
    x = torch.randn(400, 32, requires_grad=True)
    base_out = torch.randn(400, 24).bfloat16()
    lora_a = torch.randn(8, 32, requires_grad=True)
    lora_b = torch.randn(24, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fused_lora._LoraBranch.apply(x, base_out, lora_a, lora_b, scale, p)
    out.float().square().sum().backward()
    keep = masks[0][1]
    assert out.dtype == torch.float32 and keep.float().mean().item() == pytest.approx(1 - p, abs=0.02)

    # The same branch by hand with the same mask, inverted dropout, in fp32: what the fused one approximates.
    x_ref, a_ref, b_ref = (t.detach().clone().requires_grad_() for t in (x, lora_a, lora_b))
    dropped = x_ref.bfloat16().float() * keep / (1 - p)
    ref = base_out.float() + scale * (dropped @ a_ref.bfloat16().float().t()) @ b_ref.bfloat16().float().t()
    ref.square().sum().backward()
    assert (out.float() - ref).abs().max() < 1e-2 * ref.abs().max()  # bf16's rounding, no more
    for fused, manual in ((x.grad, x_ref.grad), (lora_a.grad, a_ref.grad), (lora_b.grad, b_ref.grad)):
        assert fused.dtype == torch.float32
        assert torch.nn.functional.cosine_similarity(fused.flatten(), manual.flatten(), dim=0) > 0.999
    assert (x.grad[~keep] == 0).all()  # dropped inputs get no gradient through the branch


def test_the_cpu_steps_dropout_mask_keeps_each_entry_with_probability_one_minus_p_in_every_lane():
    """Four 16-bit draws come out of each 64-bit one: all four lanes must be uniform (a draw that left the
    top bit clear would keep every fourth entry always), and p is honoured to well within 1%."""
    from tuner.fast.fused_lora import _kept_unscaled

    torch.manual_seed(0)
    x = torch.ones(1000, 400)
    for p in (0.5, 0.1):
        dropped, keep = _kept_unscaled(x, p)
        lanes = keep.flatten().view(-1, 4).float().mean(0)
        assert torch.allclose(lanes, torch.full((4,), 1 - p), atol=0.005), (p, lanes)
        assert torch.equal(dropped, keep.float())  # kept entries unscaled, dropped ones zero
    assert not torch.equal(_kept_unscaled(x, 0.5)[1], _kept_unscaled(x, 0.5)[1])  # fresh draws each call


def test_the_frozen_weights_bf16_copy_is_made_once_and_again_when_the_weight_changes():
    from tuner.fast.cpu_bf16 import frozen_bf16_weight

    layer = torch.nn.Linear(8, 4).requires_grad_(False)
    first = frozen_bf16_weight(layer)
    assert first.dtype == torch.bfloat16 and frozen_bf16_weight(layer) is first
    with torch.no_grad():
        layer.weight.add_(1.0)  # written in place (a new state loaded into the model)
    assert torch.equal(frozen_bf16_weight(layer), layer.weight.bfloat16())


def test_a_merged_lora_layer_drops_its_bf16_copy_so_the_unmerged_one_reads_the_weight_afresh():
    from peft import LoraConfig, get_peft_model

    from tuner.fast.fused_lora import install_fused_lora

    model = get_peft_model(tiny_qwen2(seed=3), LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj"]))
    install_fused_lora(model)
    q_proj = model.get_base_model().model.layers[0].self_attn.q_proj
    ids = torch.tensor([conversation(12, 1)["input_ids"]])
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        model(input_ids=ids)
        assert "_hearth_bf16_weight" in q_proj.base_layer.__dict__
        model.merge_adapter()
        model(input_ids=ids)
        assert "_hearth_bf16_weight" not in q_proj.base_layer.__dict__


def test_the_chunked_loss_with_a_bf16_head_on_the_cpu_stays_close_to_fp32():
    from tuner.fast.chunked_loss import chunked_cross_entropy

    torch.manual_seed(0)
    hidden = torch.randn(300, 64, requires_grad=True)
    weight = torch.randn(2000, 64) * 0.3
    targets = torch.randint(0, 2000, (300,))
    losses, grads = {}, {}
    for dtype in (None, torch.bfloat16):
        hidden.grad = None
        loss, _correct = chunked_cross_entropy(hidden, weight, targets, chunk_tokens=128, compute_dtype=dtype)
        loss.backward()
        losses[dtype], grads[dtype] = loss.item(), hidden.grad.clone()
    reference = torch.nn.functional.cross_entropy(hidden.detach() @ weight.t(), targets, reduction="sum").item()
    assert losses[None] == pytest.approx(reference, rel=1e-5)
    assert losses[torch.bfloat16] == pytest.approx(reference, rel=2e-3)
    assert grads[torch.bfloat16].dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(grads[None].flatten(), grads[torch.bfloat16].flatten(), dim=0) > 0.999


def test_frozen_projections_turn_bf16_but_a_lora_head_tied_to_the_embeddings_stays_fp32():
    from peft import LoraConfig, get_peft_model

    from tuner.fast.cpu_bf16 import frozen_projections_to_bf16

    model = tiny_qwen2(seed=1)
    model.lm_head.weight = model.model.embed_tokens.weight  # tied, as SmolLM2's are
    model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "lm_head"]))
    layers = model.get_base_model().model.layers
    assert frozen_projections_to_bf16(model) == len(layers)  # each q_proj, not the head
    assert all(layer.self_attn.q_proj.base_layer.weight.dtype == torch.bfloat16 for layer in layers)
    assert model.get_input_embeddings().weight.dtype == torch.float32
    assert all(p.dtype == torch.float32 for n, p in model.named_parameters() if p.requires_grad)  # the adapter


def test_attention_under_cpu_bf16_runs_in_fp32_where_the_bf16_kernel_is_slower_and_stays_bf16_on_amx(
        tmp_path, monkeypatch):
    zen4, amx = tmp_path / "zen4", tmp_path / "amx"
    zen4.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    amx.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n")
    assert cpu_attention_in_fp32(str(zen4)) and not cpu_attention_in_fp32(str(amx))

    seen = []  # the dtype each attention kernel ran in (autocast casts inside the call: read its output)
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def recorded(q, k, v, **kwargs):
        out = sdpa(q, k, v, **kwargs)
        seen.append(out.dtype)
        return out

    monkeypatch.setattr("tuner.fast.attention.F.scaled_dot_product_attention", recorded)
    torch.manual_seed(0)
    query, key = torch.randn(1, 4, 20, 8), torch.randn(1, 2, 20, 8)
    bounds = torch.tensor([0, 8, 20])
    exact = _sdpa_per_conversation(query, key, key, bounds, None)
    for in_fp32, kernel_dtype in ((True, torch.float32), (False, torch.bfloat16)):
        monkeypatch.setattr("tuner.fast.attention.cpu_attention_in_fp32", lambda: in_fp32)
        seen.clear()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = _sdpa_per_conversation(query, key, key, bounds, None)
        assert seen == [kernel_dtype, kernel_dtype] and out.dtype == torch.bfloat16  # what the next product reads
        assert out.shape == exact.shape
    monkeypatch.setattr("tuner.fast.attention.cpu_attention_in_fp32", lambda: True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = _sdpa_per_conversation(query, key, key, bounds, None)
    torch.testing.assert_close(out.float(), exact, rtol=2 ** -8, atol=1e-6)  # only the output's bf16 rounding
