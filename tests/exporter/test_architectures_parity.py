"""Gemma 2, Gemma 3, Phi-3 and SmolLM: each architecture's own metadata and tensors (their tokenizer and
logits parity with the Hugging Face model is test_parity.py's, with the first four)."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest

from exporter.convert import convert_hf_to_gguf
from exporter.verify import HFReference, tokenizer_parity
from hearth.errors import UserError
from hearth.llama import open_llama


def _fields(path) -> tuple[dict, dict]:
    reader = gguf.GGUFReader(path)
    return {key: field.contents() for key, field in reader.fields.items()}, {t.name: t for t in reader.tensors}


def test_gemma_metadata_soft_capping_sliding_windows_and_the_norm_offset(f16_files, gemma2_dir, gemma3_dir):
    from safetensors.numpy import load_file

    fields, tensors = _fields(f16_files["gemma2_dir"])
    assert fields["general.architecture"] == "gemma2" and fields["tokenizer.ggml.model"] == "llama"
    assert fields["gemma2.attn_logit_softcapping"] == 50.0 and fields["gemma2.final_logit_softcapping"] == 30.0
    assert fields["gemma2.attention.sliding_window"] == 16
    assert list(fields["gemma2.attention.sliding_window_pattern"]) == [True, False]
    assert fields["tokenizer.ggml.add_space_prefix"] is False  # Gemma's SentencePiece has no dummy prefix
    assert "output.weight" not in tensors and "blk.1.post_attention_norm.weight" in tensors
    assert fields["tokenizer.ggml.tokens"][fields["tokenizer.ggml.eos_token_id"]] == "<end_of_turn>"
    assert fields["tokenizer.ggml.token_type"][fields["tokenizer.ggml.eos_token_id"]] == gguf.TokenType.CONTROL
    source = load_file(gemma2_dir / "model.safetensors")["model.layers.0.post_feedforward_layernorm.weight"]
    stored = np.asarray(tensors["blk.0.post_ffw_norm.weight"].data)
    assert np.allclose(stored, source + 1.0)  # HF computes x·(1+w); llama.cpp x·w
    fields, tensors = _fields(f16_files["gemma3_dir"])
    assert fields["gemma3.rope.freq_base"] == 1_000_000.0 and fields["gemma3.rope.freq_base_swa"] == 10_000.0
    assert list(fields["gemma3.attention.sliding_window_pattern"]) == [True, False]
    assert "gemma3.attn_logit_softcapping" not in fields and "blk.0.attn_q_norm.weight" in tensors
    q_norm = load_file(gemma3_dir / "model.safetensors")["model.layers.0.self_attn.q_norm.weight"]
    assert np.allclose(np.asarray(tensors["blk.0.attn_q_norm.weight"].data), q_norm + 1.0)


def test_phi3_keeps_fused_tensors_and_writes_longrope_factors(f16_files, phi3_dir):
    fields, tensors = _fields(f16_files["phi3_dir"])
    assert fields["general.architecture"] == "phi3" and fields["phi3.rope.dimension_count"] == 32
    assert tensors["blk.0.attn_qkv.weight"].shape.tolist() == [128, 128 + 2 * 2 * 32]  # q + k + v rows, GQA
    assert tensors["blk.0.ffn_up.weight"].shape.tolist() == [128, 2 * 256]  # gate and up, as stored
    assert "blk.0.ffn_gate.weight" not in tensors and "output.weight" in tensors
    short = np.asarray(tensors["rope_factors_short.weight"].data)
    assert np.allclose(short, [1.0 + 0.05 * i for i in range(16)]) and "rope_factors_long.weight" in tensors
    assert fields["phi3.rope.scaling.original_context_length"] == 1024
    assert abs(fields["phi3.rope.scaling.attn_factor"] - (1 + np.log(4) / np.log(1024)) ** 0.5) < 1e-6
    assert fields["tokenizer.ggml.tokens"][fields["tokenizer.ggml.eos_token_id"]] == "<|end|>"


def test_a_phi3_run_keeps_the_runtime_stripping_after_its_turn_markers(phi3_dir, tmp_path):
    # llama.cpp strips the whitespace after Phi-3's special tokens (as the HF tokenizer does) only for files
    # whose general.name says phi3; a run's name gets the marker, so "<|user|>\n" tokenizes as in training.
    path = convert_hf_to_gguf(phi3_dir, tmp_path / "run.gguf", name="run-1")
    fields, _ = _fields(path)
    assert fields["general.name"] == "run-1-phi3"
    with open_llama(path, n_ctx=256) as llm:
        tokens = tokenizer_parity(HFReference(phi3_dir), llm)
    assert tokens["passed"], tokens["mismatches"]


def test_smollm_digits_are_named_for_llama_cpp_as_split_one_by_one(f16_files, smollm_dir, tmp_path):
    import json
    import shutil

    fields, _ = _fields(f16_files["smollm_dir"])
    assert fields["general.architecture"] == "llama" and fields["tokenizer.ggml.pre"] == "smollm"
    assert fields["tokenizer.ggml.tokens"][fields["tokenizer.ggml.eos_token_id"]] == "<|im_end|>"
    # The name comes from the tokenizer's own definition: digit runs kept whole is another splitter.
    model = Path(shutil.copytree(smollm_dir, tmp_path / "m"))
    tokenizer = json.loads((model / "tokenizer.json").read_text(encoding="utf-8"))
    tokenizer["pre_tokenizer"]["pretokenizers"][0]["individual_digits"] = False
    (model / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    with pytest.raises(UserError, match=r"not one hearth can name.*known: gpt-2, llama-bpe, qwen2, smollm"):
        convert_hf_to_gguf(model, tmp_path / "m.gguf")


@pytest.mark.parametrize("model", ["gemma2_dir", "phi3_dir", "llama_spm_dir"])
def test_a_sentencepiece_model_saved_without_tokenizer_model_tokenizes_the_same(model, request, tmp_path):
    # transformers 5 saves only tokenizer.json: a fine-tuned run's merged model has no tokenizer.model.
    import shutil

    source = request.getfixturevalue(model)
    model_dir = Path(shutil.copytree(source, tmp_path / source.name, ignore=shutil.ignore_patterns("tokenizer.model")))
    path = convert_hf_to_gguf(model_dir, tmp_path / "m.gguf")
    fields, _ = _fields(path)
    original, _ = _fields(convert_hf_to_gguf(source, tmp_path / "with-model.gguf"))
    assert fields["tokenizer.ggml.model"] == "llama"
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.add_space_prefix",
                "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token"):
        assert fields[key] == original[key], key
    with open_llama(path, n_ctx=512) as llm:
        tokens = tokenizer_parity(HFReference(model_dir), llm)
    assert tokens["passed"], tokens["mismatches"]
