"""GGUF LoRA adapters for the new architectures: base GGUF + adapter GGUF gives the merged model's
logits, Phi-3's adapters on its fused qkv and gate_up included."""

from __future__ import annotations

import pytest

from exporter.convert import convert_hf_to_gguf
from exporter.lora import export_lora
from exporter.verify import verify_lora
from tests.exporter.test_lora import _adapter

TARGETS = {
    "gemma2_dir": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "gemma3_dir": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    "phi3_dir": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],  # Phi-3's own module names
}


@pytest.mark.parametrize("model", sorted(TARGETS))
def test_lora_on_the_base_gguf_matches_the_merged_model(model, f16_files, request, tmp_path):
    base_dir = request.getfixturevalue(model)
    adapted, tokenizer = _adapter(base_dir, tmp_path, target_modules=TARGETS[model])
    adapted.merge_and_unload().save_pretrained(tmp_path / "merged")
    tokenizer.save_pretrained(tmp_path / "merged")
    lora = export_lora(tmp_path / "adapter", tmp_path / "lora.gguf", base_dir=base_dir)
    merged = convert_hf_to_gguf(tmp_path / "merged", tmp_path / "merged.gguf")
    parity = verify_lora(merged, f16_files[model], lora.path, tmp_path / "merged")
    assert lora.n_tensors == 2 * len(TARGETS[model]) * 2
    assert parity["passed"] and parity["max_abs_diff"] < 0.05, parity
