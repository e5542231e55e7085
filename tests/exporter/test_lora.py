"""PEFT adapter → GGUF LoRA: base GGUF + LoRA GGUF gives the merged model's logits; adapters
llama.cpp cannot apply are refused with the reason."""

from __future__ import annotations

import json

import pytest
import torch

from exporter.convert import convert_hf_to_gguf
from exporter.lora import export_lora
from exporter.verify import verify_lora
from hearth.errors import UserError

ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _adapter(base_dir, out, **lora_kwargs):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(5)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    adapted = get_peft_model(model, LoraConfig(**{"r": 8, "lora_alpha": 16, "target_modules": ALL_LINEAR,
                                                  **lora_kwargs}))
    for name, param in adapted.named_parameters():
        if "lora_B" in name or "lora_embedding_B" in name:
            torch.nn.init.normal_(param, std=0.05)
    adapted.save_pretrained(out / "adapter")
    return adapted, AutoTokenizer.from_pretrained(base_dir)


def test_run_adapter_as_gguf_lora_matches_the_merged_model(run_dir, qwen2_dir, f16_files, tmp_path):
    lora = export_lora(run_dir, tmp_path / "run-lora.gguf")  # a run directory: adapter/ inside
    merged = convert_hf_to_gguf(run_dir / "merged", tmp_path / "merged.gguf")
    parity = verify_lora(merged, f16_files["qwen2_dir"], lora.path, run_dir / "merged")
    assert lora.arch == "qwen2" and lora.alpha == 16 and lora.n_tensors == 2 * 7 * 2
    assert parity["passed"] and parity["argmax_mismatches"] == 0
    assert parity["max_abs_diff"] < 0.05


def test_llama_lora_with_rslora_and_rank_alpha_patterns_is_folded_exactly(llama_bpe_dir, f16_files, tmp_path):
    # Llama: lora_B rows of q/k take the rope permutation; PEFT's per-module scales are folded into B.
    adapted, tokenizer = _adapter(llama_bpe_dir, tmp_path, use_rslora=True, rank_pattern={"q_proj": 4},
                                  alpha_pattern={"down_proj": 4})
    adapted.merge_and_unload().save_pretrained(tmp_path / "merged")
    tokenizer.save_pretrained(tmp_path / "merged")
    lora = export_lora(tmp_path / "adapter", tmp_path / "lora.gguf")
    merged = convert_hf_to_gguf(tmp_path / "merged", tmp_path / "merged.gguf")
    parity = verify_lora(merged, f16_files["llama_bpe_dir"], lora.path, tmp_path / "merged")
    assert sorted(set(lora.ranks)) == [4, 8] and lora.folded_modules == 2 * 7
    assert parity["passed"] and parity["max_abs_diff"] < 0.05, parity


@pytest.mark.parametrize("lora_kwargs, reason", [
    ({"target_modules": ["q_proj"], "modules_to_save": ["lm_head"]}, "full weights"),
    ({"target_modules": ["embed_tokens", "q_proj"]}, "token embedding"),
    ({"target_modules": ["q_proj"], "use_dora": True}, "DoRA"),
])
def test_adapters_llama_cpp_cannot_apply_are_refused_with_advice(lora_kwargs, reason, llama_bpe_dir, tmp_path):
    _adapter(llama_bpe_dir, tmp_path, **lora_kwargs)
    with pytest.raises(UserError, match=f"cannot be written as a GGUF LoRA: .*{reason}.*merged model"):
        export_lora(tmp_path / "adapter", tmp_path / "lora.gguf")
    assert not (tmp_path / "lora.gguf").exists()


def test_lora_on_a_tied_output_head_is_refused(qwen2_dir, tmp_path):
    _adapter(qwen2_dir, tmp_path, target_modules=["q_proj", "lm_head"])
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text(encoding="utf-8"))
    assert "lm_head" in config["target_modules"]
    with pytest.raises(UserError, match="cannot be written as a GGUF LoRA: .*lm_head"):
        export_lora(tmp_path / "adapter", tmp_path / "lora.gguf")
