"""A tiny Qwen2 and pre-tokenized rows for the fast path's tests, and the LoRA trainer either way (TRL's plain
SFTTrainer or the fast path's) with its loss and LoRA gradients on one batch."""

from __future__ import annotations

import random

import torch

from tuner.fast.packing import IGNORE_INDEX
from tuner.fast.plan import choose_fast_path
from tuner.fast.settings import FastSettings
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


def word_tokenizer():
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {f"t{i}": i for i in range(VOCAB)}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel(vocab, unk_token="t1")))
    tokenizer.pad_token, tokenizer.eos_token, tokenizer.unk_token = "t0", "t2", "t1"
    return tokenizer


def lora_trainer(fast: bool, dtype: torch.dtype, rows: list[dict], tmp_path, device: str = "cpu", **settings):
    """TRL's SFTTrainer (fast=False) or the fast path's, on a tiny Qwen2 with LoRA on every projection."""
    from datasets import Dataset
    from peft import LoraConfig, get_peft_model
    from trl import SFTConfig

    model = tiny_qwen2(dtype=dtype, seed=7).to(device)
    settings = FastSettings(**{"enabled": "on" if fast else "off", "liger": "off", "token_budget": 4096,
                              "cpu_bf16": "off", **settings})  # fp32 exactness, on any CPU; test_cpu_bf16 asks for it
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
                                processing_class=word_tokenizer(), data_collator=path.data_collator(word_tokenizer()))
    return trainer, model


def lora_grads_and_loss(fast: bool, dtype: torch.dtype, rows: list[dict], tmp_path, device: str = "cpu",
                         compile_backend: str | None = None, checkpointing: bool = False, **settings):
    trainer, model = lora_trainer(fast, dtype, rows, tmp_path, device, **settings)
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


def rows_with_plain_boundaries(count: int) -> list[dict]:
    rows = [conversation(n, seed) for seed, n in enumerate([23, 40, 17, 31][:count])]
    for row in rows:  # the plain path never scores a row's first token either
        row["labels"][0] = IGNORE_INDEX
    return rows
