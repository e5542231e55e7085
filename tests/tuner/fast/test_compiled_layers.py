"""Compiled decoder layers (tuner/fast/compiled_layers.py): the same loss and gradients without graph breaks,
only layer inputs kept under checkpointing, and new pack shapes without recompiling."""

from __future__ import annotations

import pytest
import torch

from tests.tuner.fast.tiny_qwen import conversation, lora_grads_and_loss, rows_with_plain_boundaries, tiny_qwen2
from tuner.fast.attention import ATTENTION_NAME, register_varlen_attention
from tuner.fast.packing import PackedCollator


def test_compiled_layers_compute_the_fast_path_exactly_without_graph_breaks(tmp_path):
    """Each decoder layer traced whole (attention, fused LoRA, checkpointing): same loss, same gradients.
    `aot_eager` runs the traced graphs and derived backward without generating kernels (seconds on CPU)."""
    import torch._dynamo

    rows = rows_with_plain_boundaries(4)
    eager_loss, eager_grads = lora_grads_and_loss(True, torch.float32, rows, tmp_path)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled_loss, compiled_grads = lora_grads_and_loss(
        True, torch.float32, rows, tmp_path, compile_backend="aot_eager", checkpointing=True
    )
    assert not torch._dynamo.utils.counters["graph_break"], dict(torch._dynamo.utils.counters["graph_break"])
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1
    assert compiled_loss.item() == pytest.approx(eager_loss.item(), rel=1e-5)
    for name, grad in eager_grads.items():
        torch.testing.assert_close(compiled_grads[name], grad, rtol=1e-4, atol=1e-6)
    torch._dynamo.reset()


@pytest.mark.gpu
def test_cuda_compiled_layers_equal_eager_fast_path_without_graph_breaks(tmp_path):
    """Inductor on CUDA: FlashAttention varlen and the LoRA branch traced into each layer's graph."""
    import torch._dynamo

    rows = rows_with_plain_boundaries(4)
    eager_loss, eager_grads = lora_grads_and_loss(True, torch.bfloat16, rows, tmp_path, "cuda", compile="off")
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled_loss, compiled_grads = lora_grads_and_loss(
        True, torch.bfloat16, rows, tmp_path, "cuda", compile_backend="inductor", checkpointing=True, compile="off"
    )
    assert not torch._dynamo.utils.counters["graph_break"], dict(torch._dynamo.utils.counters["graph_break"])
    assert compiled_loss.item() == pytest.approx(eager_loss.item(), rel=2e-2)
    for name, grad in eager_grads.items():
        assert (compiled_grads[name] - grad).norm() / grad.norm() < 6e-2, name
    torch._dynamo.reset()


def _peft_packed_step(compile_backend: str | None, checkpointing: bool, dropout: float, seed: int = 5):
    """One forward+backward of a packed row through a LoRA'd tiny Qwen2 (varlen attention, fused LoRA):
    (bytes autograd saved for backward, the LoRA gradients)."""
    import torch._dynamo
    from peft import LoraConfig, get_peft_model

    from tuner.fast.compiled_layers import compile_decoder_layers
    from tuner.fast.fused_lora import install_fused_lora

    register_varlen_attention()
    torch._dynamo.reset()
    model = tiny_qwen2(attn=ATTENTION_NAME, seed=3)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, lora_dropout=dropout, task_type="CAUSAL_LM",
                                             target_modules=["q_proj", "v_proj", "gate_proj", "down_proj"])).train()
    for name, param in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.05)
    install_fused_lora(model)
    if checkpointing:
        model.get_base_model().gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if compile_backend:
        compile_decoder_layers(model.get_base_model(), backend=compile_backend)
    batch = PackedCollator(pad_token_id=0)([conversation(n, seed) for seed, n in enumerate([90, 60, 106])])
    batch.pop("labels")
    storages: dict = {}

    def keep(tensor):
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    torch.manual_seed(seed)
    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        hidden = model.get_base_model().model(**batch, use_cache=False).last_hidden_state
    hidden.square().mean().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    torch._dynamo.reset()
    return sum(storages.values()), grads


def test_compiled_layers_keep_only_layer_inputs_under_checkpointing_and_recompute_the_same_dropout():
    """Checkpointing wraps the compiled layer (not traced into it): the partitioner inductor uses would
    otherwise keep ~10x more per token. The recomputation replays the same dropout masks."""
    backend = "aot_eager_decomp_partition"  # inductor's partitioner and decompositions, no code generation
    eager_saved, _ = _peft_packed_step(None, checkpointing=True, dropout=0.3)
    compiled_saved, recomputed = _peft_packed_step(backend, checkpointing=True, dropout=0.3)
    stored_saved, stored = _peft_packed_step(backend, checkpointing=False, dropout=0.3)
    assert compiled_saved <= 1.1 * eager_saved and compiled_saved < stored_saved / 4
    for name, grad in stored.items():
        torch.testing.assert_close(recomputed[name], grad, rtol=1e-5, atol=1e-7)


def test_compiled_layers_take_new_pack_shapes_without_recompiling():
    """Packs differ in length and in conversation count every step: shapes are dynamic from the start."""
    import torch._dynamo

    from tuner.fast.compiled_layers import compile_decoder_layers

    register_varlen_attention()
    torch._dynamo.reset()
    model = tiny_qwen2(attn=ATTENTION_NAME).train()
    compile_decoder_layers(model, backend="eager")
    graphs = []
    for lengths in ([20, 31], [9, 40, 17, 5], [60]):
        batch = PackedCollator(pad_token_id=0)([conversation(n, seed) for seed, n in enumerate(lengths)])
        batch.pop("labels")
        model(**batch, use_cache=False).logits.sum().backward()
        graphs.append(torch._dynamo.utils.counters["stats"]["unique_graphs"])
    assert graphs[0] >= 1 and graphs[1] == graphs[0] and graphs[2] == graphs[0]
    torch._dynamo.reset()
