"""The GPU fast path computes what the plain path computes (on CPU, in seconds).

- chunked cross-entropy == F.cross_entropy (value and gradients);
- packing: every row exactly once, budgets respected, positions restart, boundary labels ignored;
- packed conversations do not attend to each other (changing conversation A leaves B's logits
  unchanged, and B's logits in a pack equal B's logits alone), for both attention paths;
- FastSFTTrainer's loss and LoRA gradients on a batch equal TRL's plain SFTTrainer's, fp32 tight
  and within bf16 tolerance in bf16.
"""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F

from tuner.fast.attention import ATTENTION_NAME, register_varlen_attention
from tuner.fast.chunked_loss import chunked_cross_entropy
from tuner.fast.packing import IGNORE_INDEX, PackedCollator, TokenBudgetBatchSampler, pack_by_budget
from tuner.fast.plan import choose_fast_path
from tuner.fast.settings import FastSettings
from tuner.fast.token_budget import BudgetChoice, faster_choice, fit_token_budget
from tuner.fast.trainer import build_sft_trainer

VOCAB = 320


def tiny_qwen2(dtype=torch.float32, attn="sdpa", seed=0):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        attn_implementation=attn,
    )
    return Qwen2ForCausalLM(config).to(dtype).eval()


def conversation(length: int, seed: int) -> dict:
    """A pre-tokenized row like tuner.masking's: a prompt part (-100) then an assistant part."""
    rng = random.Random(seed)
    ids = [rng.randrange(3, VOCAB) for _ in range(length)]
    prompt = length // 3
    return {"input_ids": ids, "labels": [IGNORE_INDEX] * prompt + ids[prompt:]}


# ---------------------------------------------------------------- chunked loss


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


# ---------------------------------------------------------------- packing


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


# ---------------------------------------------------------------- no cross-attention inside a pack


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


# ---------------------------------------------------------------- fused LoRA == PEFT's LoRA


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


def test_fused_lora_equals_peft_lora_including_dropout():
    from tuner.fast.fused_lora import install_fused_lora

    model = _peft_tiny(dropout=0.3)
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


# ---------------------------------------------------------------- fast trainer == plain trainer


def _tokenizer():
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {f"t{i}": i for i in range(VOCAB)}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel(vocab, unk_token="t1")))
    tokenizer.pad_token, tokenizer.eos_token, tokenizer.unk_token = "t0", "t2", "t1"
    return tokenizer


def _trainer(fast: bool, dtype: torch.dtype, rows: list[dict], tmp_path, device: str = "cpu", **settings):
    """TRL's SFTTrainer (fast=False) or the fast path's, on a tiny Qwen2 with LoRA on every projection."""
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from trl import SFTConfig

    model = tiny_qwen2(dtype=dtype, seed=7).to(device)
    settings = FastSettings(**{"enabled": "on" if fast else "off", "liger": "off", "token_budget": 4096, **settings})
    path = choose_fast_path(settings, model, has_cuda=device == "cuda")
    lora = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "k_proj", "v_proj",
                      "o_proj", "gate_proj", "up_proj", "down_proj"], task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    for name, param in model.named_parameters():  # non-zero B so every LoRA matrix has a gradient
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.02)
    args = SFTConfig(output_dir=str(tmp_path / ("fast" if fast else "plain")), bf16=False, fp16=False,
                     gradient_checkpointing=False, report_to="none", use_cpu=device == "cpu", max_length=64,
                     per_device_train_batch_size=len(rows), **path.sft_config_overrides)
    trainer = build_sft_trainer(path, model=model, args=args, train_dataset=Dataset.from_list(rows),
                                processing_class=_tokenizer(), data_collator=path.data_collator(_tokenizer()))
    return trainer, model


def _lora_grads_and_loss(fast: bool, dtype: torch.dtype, rows: list[dict], tmp_path, device: str = "cpu",
                         compile_backend: str | None = None, checkpointing: bool = False, **settings):
    trainer, model = _trainer(fast, dtype, rows, tmp_path, device, **settings)
    if compile_backend:
        from tuner.fast.compiled_layers import compile_decoder_layers

        compile_decoder_layers(model.get_base_model(), backend=compile_backend)
    if checkpointing:
        model.get_base_model().gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    batch = next(iter(trainer.get_train_dataloader()))
    if fast:
        assert batch["input_ids"].shape[0] == 1 and "attention_mask" not in batch  # one padding-free row
    else:
        assert batch["input_ids"].shape[0] == len(rows)
    model.train()
    loss = trainer.compute_loss(model, trainer._prepare_inputs(batch))
    loss.backward()
    grads = {n: p.grad.float().clone() for n, p in model.named_parameters() if p.requires_grad}
    assert len(grads) == 2 * 7 * 2 and all(g.abs().sum() > 0 for g in grads.values())
    return loss.detach().float(), grads


def _rows_with_plain_boundaries(count: int) -> list[dict]:
    rows = [conversation(n, seed) for seed, n in enumerate([23, 40, 17, 31][:count])]
    for row in rows:  # the plain path never scores a row's first token either
        row["labels"][0] = IGNORE_INDEX
    return rows


@pytest.mark.parametrize(
    ("dtype", "loss_tol", "grad_tol"),
    [(torch.float32, 1e-5, 1e-4), (torch.bfloat16, 2e-2, 6e-2)],
    ids=["fp32", "bf16"],
)
def test_fast_path_loss_and_lora_gradients_equal_plain_path(dtype, loss_tol, grad_tol, tmp_path):
    rows = _rows_with_plain_boundaries(4)
    plain_loss, plain_grads = _lora_grads_and_loss(False, dtype, rows, tmp_path)
    fast_loss, fast_grads = _lora_grads_and_loss(True, dtype, rows, tmp_path)
    assert fast_loss.item() == pytest.approx(plain_loss.item(), rel=loss_tol)
    for name, grad in plain_grads.items():
        error = (fast_grads[name] - grad).norm() / grad.norm()
        assert error < grad_tol, f"{name}: relative gradient error {error:.2e}"


def test_compiled_layers_compute_the_fast_path_exactly_without_graph_breaks(tmp_path):
    """Each decoder layer traced whole (attention, fused LoRA, checkpointing): same loss, same gradients.
    `aot_eager` runs the traced graphs and derived backward without generating kernels (seconds on CPU)."""
    import torch._dynamo

    rows = _rows_with_plain_boundaries(4)
    eager_loss, eager_grads = _lora_grads_and_loss(True, torch.float32, rows, tmp_path)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled_loss, compiled_grads = _lora_grads_and_loss(
        True, torch.float32, rows, tmp_path, compile_backend="aot_eager", checkpointing=True
    )
    assert not torch._dynamo.utils.counters["graph_break"], dict(torch._dynamo.utils.counters["graph_break"])
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 1
    assert compiled_loss.item() == pytest.approx(eager_loss.item(), rel=1e-5)
    for name, grad in eager_grads.items():
        torch.testing.assert_close(compiled_grads[name], grad, rtol=1e-4, atol=1e-6)
    torch._dynamo.reset()


@pytest.mark.gpu
def test_cuda_fast_path_equals_plain_path_in_bf16(tmp_path):
    """On CUDA the fast path (compiled layers by default) runs FlashAttention varlen and the fp32-output head."""
    rows = _rows_with_plain_boundaries(4)
    plain_loss, plain_grads = _lora_grads_and_loss(False, torch.bfloat16, rows, tmp_path, "cuda")
    fast_loss, fast_grads = _lora_grads_and_loss(True, torch.bfloat16, rows, tmp_path, "cuda")
    assert fast_loss.item() == pytest.approx(plain_loss.item(), rel=2e-2)
    for name, grad in plain_grads.items():
        assert (fast_grads[name] - grad).norm() / grad.norm() < 6e-2, name


@pytest.mark.gpu
def test_cuda_compiled_layers_equal_eager_fast_path_without_graph_breaks(tmp_path):
    """Inductor on CUDA: FlashAttention varlen and the LoRA branch traced into each layer's graph."""
    import torch._dynamo

    rows = _rows_with_plain_boundaries(4)
    eager_loss, eager_grads = _lora_grads_and_loss(True, torch.bfloat16, rows, tmp_path, "cuda", compile="off")
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled_loss, compiled_grads = _lora_grads_and_loss(
        True, torch.bfloat16, rows, tmp_path, "cuda", compile_backend="inductor", checkpointing=True, compile="off"
    )
    assert not torch._dynamo.utils.counters["graph_break"], dict(torch._dynamo.utils.counters["graph_break"])
    assert compiled_loss.item() == pytest.approx(eager_loss.item(), rel=2e-2)
    for name, grad in eager_grads.items():
        assert (compiled_grads[name] - grad).norm() / grad.norm() < 6e-2, name
    torch._dynamo.reset()


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


def test_block_causal_mask_attention_equals_per_conversation_attention():
    """The loop-free form a compiled layer traces on CPU computes the same attention."""
    from tuner.fast.attention import _sdpa_block_causal, _sdpa_per_conversation

    torch.manual_seed(0)
    cu = torch.tensor([0, 5, 6, 19, 30], dtype=torch.int32)
    q = torch.randn(1, 4, 30, 8, dtype=torch.float64)
    k, v = torch.randn(2, 1, 2, 30, 8, dtype=torch.float64)
    torch.testing.assert_close(_sdpa_block_causal(q, k, v, cu, 0.3), _sdpa_per_conversation(q, k, v, cu, 0.3))


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


def test_fast_trainer_bookkeeping_matches_the_base_trainers(tmp_path):
    """FLOPs, clipped gradient norm and the token count come out as transformers' Trainer computes them."""
    from transformers import Trainer

    trainer, model = _trainer(True, torch.float32, _rows_with_plain_boundaries(4), tmp_path)
    batch = trainer._prepare_inputs(next(iter(trainer.get_train_dataloader())))
    assert trainer.floating_point_ops(batch) == Trainer.floating_point_ops(trainer, batch) > 0
    trainer.compute_loss(model, batch).backward()
    everything = torch.nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None])
    norm = trainer._clip_grad_norm(model)
    assert norm.item() == pytest.approx(everything.item(), rel=1e-6)
    trainer.args.include_num_input_tokens_seen = "all"
    trainer._track_num_input_tokens(batch)
    assert trainer.state.num_input_tokens_seen == sum(len(r["input_ids"]) for r in _rows_with_plain_boundaries(4))


def test_a_failed_compile_on_auto_falls_back_to_eager_and_says_so(tmp_path, monkeypatch):
    import tuner.fast.trainer as fast_trainer
    from tuner.fast.compiled_layers import compile_decoder_layers, decoder_layers

    def no_compiler(graph, example_inputs):
        raise RuntimeError("no C compiler on this machine")

    monkeypatch.setattr(fast_trainer, "compile_decoder_layers", lambda lm: compile_decoder_layers(lm, no_compiler))
    rows = _rows_with_plain_boundaries(4)
    trainer, model = _trainer(True, torch.float32, rows, tmp_path, compile="on")
    trainer.fast_path.settings.compile = "auto"  # compiling as "auto" does on CUDA: a failure falls back
    assert all("forward" in vars(layer) for layer in decoder_layers(model.get_base_model()))
    batch = next(iter(trainer.get_train_dataloader()))
    assert not trainer.fast_path.compile
    assert not any("forward" in vars(layer) for layer in decoder_layers(model.get_base_model()))
    assert "torch.compile failed (" in trainer.fast_path.describe() and "no C compiler" in trainer.fast_path.describe()
    loss = trainer.compute_loss(model, trainer._prepare_inputs(batch))
    loss.backward()  # and training goes on, eagerly
    assert torch.isfinite(loss)

    trainer, model = _trainer(True, torch.float32, rows, tmp_path, compile="on")  # forced on: the error stops the run
    with pytest.raises(Exception, match="no C compiler"):
        trainer.get_train_dataloader()


# ---------------------------------------------------------------- plan and budget


def test_settings_accept_yaml_booleans_for_switches():
    settings = FastSettings(gradient_checkpointing=False, liger=True, enabled=False, compile=True)
    assert (settings.gradient_checkpointing, settings.liger, settings.enabled, settings.compile) == ("off", "on", "off", "on")
    from hearth.errors import UserError

    with pytest.raises(UserError, match="fast.compile") as refused:
        FastSettings(compile="fast")
    assert "auto, on, off" in str(refused.value)


def test_plan_runs_on_cpu_without_its_gpu_parts_and_is_plain_when_off():
    model = tiny_qwen2()
    off = choose_fast_path(FastSettings(enabled="off"), model, has_cuda=False)
    assert not off.enabled and off.sft_config_overrides == {} and off.data_collator(_tokenizer()) is None
    on = choose_fast_path(FastSettings(), model, has_cuda=False)  # auto: the fast path on CPU as well
    assert on.enabled and on.packing and on.chunked_loss and on.attention == ATTENTION_NAME and on.fused_lora
    assert not on.compile and not on.liger  # the GPU-only parts stay off
    assert on.checkpointing is None  # auto: decided by the memory probe, on CPU as on CUDA
    assert isinstance(on.data_collator(_tokenizer()), PackedCollator)
    assert "packing on" in on.describe()
    parts_off = choose_fast_path(FastSettings(enabled="on", packing=False, chunked_loss=False), model, False)
    assert not parts_off.packing and not parts_off.chunked_loss and parts_off.data_collator(_tokenizer()) is None


def test_plan_compiles_layers_on_cuda_by_default_but_not_4bit_models_and_then_leaves_liger_off():
    model = tiny_qwen2()
    cuda = choose_fast_path(FastSettings(), model, has_cuda=True)
    assert cuda.compile and cuda.compile_fallback and not cuda.liger and "compile on" in cuda.describe()
    assert not choose_fast_path(FastSettings(enabled="on"), model, has_cuda=False).compile
    forced = choose_fast_path(FastSettings(enabled="on", compile="on"), model, has_cuda=False)
    assert forced.compile and not forced.compile_fallback
    assert not choose_fast_path(FastSettings(compile=False), model, has_cuda=True).compile
    model.is_loaded_in_4bit = True
    assert not choose_fast_path(FastSettings(), model, has_cuda=True).compile


def test_fit_token_budget_reads_the_line_and_backs_off_on_out_of_memory():
    # A fake GPU: 1000 bytes fixed + 3 bytes per token, out of memory past 9000 bytes.
    def probe(_step, budget):
        peak = 1000 + 3 * budget
        return None if peak > 9000 else peak

    choice = fit_token_budget(lambda b: None, limit_bytes=8000, smallest=512, largest=100_000, probe=probe)
    assert choice is not None and choice.peak_bytes <= 8000
    assert 2048 <= choice.budget <= (8000 - 1000) // 3
    assert fit_token_budget(lambda b: None, limit_bytes=500, smallest=512, largest=4096, probe=probe) is None


def test_faster_choice_times_both_budgets_and_keeps_the_one_with_more_tokens_per_second():
    without = BudgetChoice(4096, 7, 10, [])
    with_checkpointing = BudgetChoice(11264, 9, 10, [], checkpointing=True)
    timed = []

    def seconds(choice):
        timed.append(choice.budget)
        return {4096: 0.20, 11264: 0.45}[choice.budget]  # 20.5k against 25.0k tokens/s

    assert faster_choice(without, with_checkpointing, seconds) is with_checkpointing
    assert sorted(timed) == [4096, 11264] and with_checkpointing.tokens_per_s == pytest.approx(11264 / 0.45)
    slow_recompute = {4096: 0.10, 11264: 0.45}
    assert faster_choice(without, with_checkpointing, lambda c: slow_recompute[c.budget]) is without
    nothing_timed = lambda c: pytest.fail("only one fits: nothing to time")  # noqa: E731
    assert faster_choice(None, with_checkpointing, nothing_timed) is with_checkpointing
    assert faster_choice(without, None, nothing_timed) is without
    assert faster_choice(None, None, nothing_timed) is None


@pytest.mark.parametrize(("seconds", "expected"), [({4096: 0.1, 16384: 0.8}, False), ({4096: 0.2, 16384: 0.4}, True)])
def test_auto_checkpointing_follows_the_timed_probe(seconds, expected, tmp_path, monkeypatch):
    """The trainer's wiring: fit a budget each way, time both, switch the layers to the winner."""
    import tuner.fast.trainer as fast_trainer
    from tuner.fast.compiled_layers import decoder_layers

    trainer, model = _trainer(True, torch.float32, _rows_with_plain_boundaries(4), tmp_path)
    trainer.fast_path.checkpointing = None  # "auto" as on CUDA (on CPU the plan settles it as off)
    layers = decoder_layers(model.get_base_model())

    def fit_token_budget(step, *, limit_bytes, smallest, largest, **_probe):
        checkpointing = layers[0].gradient_checkpointing  # what the probe would measure right now
        return BudgetChoice(16384 if checkpointing else 4096, 1, limit_bytes, [])

    def time_step(step, budget):
        assert layers[0].gradient_checkpointing == (budget == 16384)  # each timed with its own switch
        return seconds[budget]

    monkeypatch.setattr(fast_trainer, "memory_limit_bytes", lambda *args: 10**9)
    monkeypatch.setattr(fast_trainer, "CPU_TOKEN_BUDGET", 32768)  # the GPU's ceiling, so both budgets are below it
    monkeypatch.setattr(fast_trainer, "fit_token_budget", fit_token_budget)
    monkeypatch.setattr(fast_trainer, "time_step", time_step)
    budget = trainer._probe_budget([512] * 1000)
    assert budget == (16384 if expected else 4096) and trainer.fast_path.checkpointing is expected
    assert all(layer.gradient_checkpointing is expected for layer in layers)
    assert f"checkpointing {'on' if expected else 'off'}: measured faster" in trainer.fast_path.describe()


def test_fit_token_budget_grows_past_an_overstated_small_probe_slope():
    # Small steps look expensive (a fixed 600-byte chunk appears from 1024 tokens on), then 1 byte/token.
    def probe(_step, budget):
        return 1000 + budget + (600 if budget >= 1024 else 0)

    choice = fit_token_budget(lambda b: None, limit_bytes=40_000, smallest=512, largest=100_000, probe=probe)
    assert choice.peak_bytes <= 40_000 and choice.budget > 0.85 * (40_000 - 1600)
    capped = fit_token_budget(lambda b: None, limit_bytes=40_000, smallest=512, largest=8192, probe=probe)
    assert capped.budget == 8192
