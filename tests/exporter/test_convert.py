"""What the converter writes: metadata, tensor layout, the stop token, refusals, atomic output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gguf
import numpy as np
import pytest

import exporter.convert as convert_module
import exporter.tensors as tensors_module
from exporter.convert import convert_hf_to_gguf
from hearth.errors import UserError


def _fields(path: Path) -> dict:
    reader = gguf.GGUFReader(path)
    return {key: field.contents() for key, field in reader.fields.items()}, {t.name: t for t in reader.tensors}


def test_qwen2_metadata_tied_embeddings_and_f32_norms(f16_files):
    fields, tensors = _fields(f16_files["qwen2_dir"])
    assert fields["general.architecture"] == "qwen2"
    assert fields["tokenizer.ggml.model"] == "gpt2" and fields["tokenizer.ggml.pre"] == "qwen2"
    assert fields["qwen2.embedding_length"] == 256 and fields["qwen2.attention.head_count_kv"] == 2
    assert "output.weight" not in tensors  # tied: llama.cpp reuses token_embd
    assert tensors["blk.0.attn_q.bias"].tensor_type == gguf.GGMLQuantizationType.F32
    assert tensors["blk.0.attn_norm.weight"].tensor_type == gguf.GGMLQuantizationType.F32
    assert tensors["blk.0.ffn_up.weight"].tensor_type == gguf.GGMLQuantizationType.F16
    assert "<|im_start|>" in fields["tokenizer.chat_template"]


def test_llama_untied_head_rope_factors_and_qwen3_head_dim(f16_files):
    fields, tensors = _fields(f16_files["llama_bpe_dir"])
    assert "output.weight" in tensors and "rope_freqs.weight" in tensors
    assert fields["tokenizer.ggml.pre"] == "llama-bpe" and fields["tokenizer.ggml.add_bos_token"] is True
    fields, tensors = _fields(f16_files["qwen3_dir"])
    assert fields["qwen3.attention.key_length"] == 128
    assert "blk.1.attn_q_norm.weight" in tensors
    fields, _ = _fields(f16_files["llama_spm_dir"])
    assert fields["tokenizer.ggml.model"] == "llama" and len(fields["tokenizer.ggml.scores"]) == len(
        fields["tokenizer.ggml.tokens"])


@pytest.mark.parametrize("model, end_of_turn", [("qwen2_dir", "<|im_end|>"), ("llama_bpe_dir", "<|eot_id|>"),
                                                ("llama_spm_dir", "</s>"), ("qwen3_dir", "<|im_end|>")])
def test_eos_is_the_end_of_turn_token_typed_control(model, end_of_turn, f16_files):
    fields, _ = _fields(f16_files[model])
    eos = fields["tokenizer.ggml.eos_token_id"]
    assert fields["tokenizer.ggml.tokens"][eos] == end_of_turn
    assert fields["tokenizer.ggml.token_type"][eos] == gguf.TokenType.CONTROL


def test_eos_follows_the_template_whatever_config_json_says(qwen2_dir, tmp_path):
    model = Path(shutil.copytree(qwen2_dir, tmp_path / "m"))
    for name in ("config.json", "generation_config.json"):
        config = json.loads((model / name).read_text(encoding="utf-8"))
        config["eos_token_id"] = 4094  # <|endoftext|>, as Qwen2.5's config.json has it
        (model / name).write_text(json.dumps(config), encoding="utf-8")
    tokenizer_config = json.loads((model / "tokenizer_config.json").read_text(encoding="utf-8"))
    tokenizer_config["eos_token"] = "<|endoftext|>"
    (model / "tokenizer_config.json").write_text(json.dumps(tokenizer_config), encoding="utf-8")
    notes = []
    fields, _ = _fields(convert_hf_to_gguf(model, tmp_path / "m.gguf", log=notes.append))
    assert fields["tokenizer.ggml.tokens"][fields["tokenizer.ggml.eos_token_id"]] == "<|im_end|>"
    assert notes and "<|im_end|>" in notes[0]


def test_unsupported_architecture_is_refused_by_name_with_the_list(qwen2_dir, tmp_path):
    model = Path(shutil.copytree(qwen2_dir, tmp_path / "m"))
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    config["architectures"] = ["GPT2LMHeadModel"]
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(UserError, match="GPT2LMHeadModel.*not supported.*LlamaForCausalLM.*Qwen2ForCausalLM.*Qwen3"):
        convert_hf_to_gguf(model, tmp_path / "m.gguf")
    assert not list(tmp_path.glob("*.gguf"))


def test_streaming_in_small_blocks_writes_the_same_file(qwen2_dir, f16_files, tmp_path, monkeypatch):
    monkeypatch.setattr(tensors_module, "BLOCK_BYTES", 4096)  # many blocks per tensor
    blocks = []
    original = tensors_module.SourceTensor.read_rows
    monkeypatch.setattr(tensors_module.SourceTensor, "read_rows",
                        lambda self, a, b: blocks.append((b - a) * self.row_elements * 4) or original(self, a, b))
    out = convert_hf_to_gguf(qwen2_dir, tmp_path / "small-blocks.gguf")
    assert max(blocks) <= 4096 and len(blocks) > 1000  # never more than one small block of float32 at a time
    assert out.read_bytes() == f16_files["qwen2_dir"].read_bytes()


def test_q8_0_and_bf16_outtypes_hold_the_values(qwen2_dir, tmp_path):
    from safetensors.numpy import load_file

    source = load_file(qwen2_dir / "model.safetensors")["model.layers.0.mlp.up_proj.weight"]
    for outtype, tolerance in (("q8_0", 2e-2), ("bf16", 1e-2)):
        reader = gguf.GGUFReader(convert_hf_to_gguf(qwen2_dir, tmp_path / f"{outtype}.gguf", outtype))
        tensor = next(t for t in reader.tensors if t.name == "blk.0.ffn_up.weight")
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type).reshape(source.shape)
        assert tensor.tensor_type.name == outtype.upper()
        assert np.abs(values - source).max() < tolerance * np.abs(source).max()


def test_a_failed_conversion_leaves_no_file(qwen2_dir, tmp_path, monkeypatch):
    calls = []

    def failing(block, job):
        calls.append(job.name)
        if len(calls) > 5:
            raise KeyboardInterrupt
        return original(block, job)

    original = convert_module._encode
    monkeypatch.setattr(convert_module, "_encode", failing)
    with pytest.raises(KeyboardInterrupt):
        convert_hf_to_gguf(qwen2_dir, tmp_path / "out.gguf")
    assert list(tmp_path.iterdir()) == []
