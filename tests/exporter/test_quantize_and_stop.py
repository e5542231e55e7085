"""llama.cpp's quantizer through llama-cpp-python, its chatter captured; the stop token at work."""

from __future__ import annotations

import numpy as np
import pytest

from hearth.llama import open_llama
from exporter.quantize import quantize_gguf
from hearth.errors import UserError



def _logits(path, ids):
    with open_llama(path, logits_all=True, n_ctx=128) as llm:
        llm.reset()
        llm.eval(ids)
        return np.array(llm.scores[: len(ids)])


@pytest.mark.parametrize("qtype, ratio", [("q8_0", 0.6), ("q4_k_m", 0.45)])
def test_quantized_files_are_smaller_load_and_agree(qtype, ratio, f16_files, tmp_path, capfd):
    src = f16_files["qwen2_dir"]
    summary = quantize_gguf(src, tmp_path / f"m-{qtype}.gguf", qtype)
    out, err = capfd.readouterr()
    assert "converting to" not in out + err  # llama.cpp's per-tensor lines were captured …
    assert "blk.0.ffn_up.weight" in summary.log  # … and kept
    assert summary.dst_bytes < ratio * summary.src_bytes
    assert f"{qtype}," in summary.line() and "MB →" in summary.line()
    ids = [1, 20, 300, 45, 8, 99, 1000, 7]
    reference, quantized = _logits(src, ids), _logits(summary.dst, ids)
    assert np.corrcoef(reference.ravel(), quantized.ravel())[0, 1] > 0.98


def test_verbose_lets_llama_cpp_speak(f16_files, tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("HEARTH_VERBOSE", "1")
    quantize_gguf(f16_files["qwen2_dir"], tmp_path / "m.gguf", "q8_0")
    out, err = capfd.readouterr()
    assert "blk.0.ffn_up.weight" in out + err


def test_unknown_quant_type_is_refused(f16_files, tmp_path):
    with pytest.raises(UserError, match="q3_k_xs.*q4_k_m"):
        quantize_gguf(f16_files["qwen2_dir"], tmp_path / "m.gguf", "q3_k_xs")


def test_the_exported_trained_model_stops_by_itself(f16_files):
    with open_llama(f16_files["qwen2_dir"], n_ctx=256) as llm:
        reply = llm.create_chat_completion(messages=[{"role": "user", "content": "Hello! How are you today?"}],
                                           max_tokens=64, temperature=0.0, repeat_penalty=1.0)
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"].strip() == "I am well, thank you."
