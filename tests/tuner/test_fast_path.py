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
from tuner.fast.token_budget import fit_token_budget

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


def _lora_grads_and_loss(fast: bool, dtype: torch.dtype, rows: list[dict], tmp_path, device: str = "cpu"):
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from trl import SFTConfig

    model = tiny_qwen2(dtype=dtype, seed=7).to(device)
    settings = FastSettings(enabled="on" if fast else "off", liger="off", token_budget=4096)
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
    trainer = path.trainer_class(model=model, args=args, train_dataset=Dataset.from_list(rows),
                                 processing_class=_tokenizer(), data_collator=path.data_collator(_tokenizer()))
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


@pytest.mark.gpu
def test_cuda_fast_path_equals_plain_path_in_bf16(tmp_path):
    """On CUDA the fast path runs FlashAttention varlen and the fp32-output head matmul."""
    rows = _rows_with_plain_boundaries(4)
    plain_loss, plain_grads = _lora_grads_and_loss(False, torch.bfloat16, rows, tmp_path, "cuda")
    fast_loss, fast_grads = _lora_grads_and_loss(True, torch.bfloat16, rows, tmp_path, "cuda")
    assert fast_loss.item() == pytest.approx(plain_loss.item(), rel=2e-2)
    for name, grad in plain_grads.items():
        assert (fast_grads[name] - grad).norm() / grad.norm() < 6e-2, name


@pytest.mark.gpu
def test_flash_varlen_equals_per_conversation_sdpa_on_cuda():
    from tuner.fast.attention import _flash_varlen, _sdpa_per_conversation, varlen_kernel_available

    assert varlen_kernel_available(), "this PyTorch build has no FlashAttention varlen kernel"
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


# ---------------------------------------------------------------- plan and budget


def test_settings_accept_yaml_booleans_for_switches():
    settings = FastSettings(gradient_checkpointing=False, liger=True, enabled=False)
    assert (settings.gradient_checkpointing, settings.liger, settings.enabled) == ("off", "on", "off")


def test_plan_is_off_without_cuda_on_auto_and_plain_when_off():
    model = tiny_qwen2()
    auto = choose_fast_path(FastSettings(), model, has_cuda=False)
    assert not auto.enabled and auto.sft_config_overrides == {} and auto.data_collator(_tokenizer()) is None
    assert auto.trainer_class.__name__ == "SFTTrainer"
    on = choose_fast_path(FastSettings(enabled="on", liger="off"), model, has_cuda=False)
    assert on.enabled and on.packing and on.chunked_loss and on.attention == ATTENTION_NAME
    assert isinstance(on.data_collator(_tokenizer()), PackedCollator)
    assert "packing on" in on.describe()
    parts_off = choose_fast_path(FastSettings(enabled="on", packing=False, chunked_loss=False), model, False)
    assert not parts_off.packing and not parts_off.chunked_loss and parts_off.data_collator(_tokenizer()) is None


def test_fit_token_budget_reads_the_line_and_backs_off_on_out_of_memory():
    # A fake GPU: 1000 bytes fixed + 3 bytes per token, out of memory past 9000 bytes.
    def probe(_step, budget):
        peak = 1000 + 3 * budget
        return None if peak > 9000 else peak

    choice = fit_token_budget(lambda b: None, limit_bytes=8000, smallest=512, largest=100_000, probe=probe)
    assert choice is not None and choice.peak_bytes <= 8000
    assert 2048 <= choice.budget <= (8000 - 1000) // 3
    assert fit_token_budget(lambda b: None, limit_bytes=500, smallest=512, largest=4096, probe=probe) is None


def test_fit_token_budget_grows_past_an_overstated_small_probe_slope():
    # Small steps look expensive (a fixed 600-byte chunk appears from 1024 tokens on), then 1 byte/token.
    def probe(_step, budget):
        return 1000 + budget + (600 if budget >= 1024 else 0)

    choice = fit_token_budget(lambda b: None, limit_bytes=40_000, smallest=512, largest=100_000, probe=probe)
    assert choice.peak_bytes <= 40_000 and choice.budget > 0.85 * (40_000 - 1600)
    capped = fit_token_budget(lambda b: None, limit_bytes=40_000, smallest=512, largest=8192, probe=probe)
    assert capped.budget == 8192
