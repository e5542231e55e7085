"""Hostile model files: weights come from safetensors only, everywhere; a damaged safetensors or GGUF file and a
config.json that contradicts its weights are refused in one line, before anything is loaded or written."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from hostile_run import hearth

# A pickle that, if anything unpickled it, would leave a file behind: nothing may ever load it.
MARKER = "unpickled-marker"


class _Planted:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "a pickle was loaded"))


def pickle_only(tiny_base_dir: Path, where: Path) -> Path:
    """The tiny base with its weights as pytorch_model.bin (and a planted object), no safetensors."""
    import torch
    from safetensors.torch import load_file

    model = Path(shutil.copytree(tiny_base_dir, where))
    state = load_file(model / "model.safetensors")
    state["planted"] = _Planted(where.parent / MARKER)
    torch.save(state, model / "pytorch_model.bin")
    (model / "model.safetensors").unlink()
    return model


def test_verify_refuses_a_pickle_only_model_directory(tiny_base_dir, tiny_gguf, tmp_path):
    model = pickle_only(tiny_base_dir, tmp_path / "downloaded-model")
    line = hearth(["verify", str(model), str(tiny_gguf)], tmp_path / "home").one_line_error()
    assert str(model) in line and "pickle" in line and "pytorch_model.bin" in line
    assert not (tmp_path / MARKER).exists()


@pytest.mark.parametrize("command", ["train", "convert"])
def test_train_and_convert_refuse_a_pickle_only_base_naming_it(tiny_base_dir, tmp_path, command):
    model = pickle_only(tiny_base_dir, tmp_path / "downloaded-model")
    args = {"train": ["train", "--base", str(model), "--max-steps", "1"],
            "convert": ["convert", str(model), str(tmp_path / "out.gguf")]}[command]
    line = hearth(args, tmp_path / "home").one_line_error()
    assert str(model) in line and "pickle" in line
    assert not (tmp_path / MARKER).exists() and not (tmp_path / "out.gguf").exists()


def test_merge_refuses_a_pickle_only_adapter(tiny_base_dir, tmp_path):
    from tuner.recipe import load_recipe

    run = tmp_path / "home" / "runs" / "r1"
    (run / "adapter").mkdir(parents=True)
    (run / "recipe.yaml").write_text(load_recipe("tiny-offline", [f"model.base={tiny_base_dir}"]).to_yaml(), encoding="utf-8")
    (run / "adapter" / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}), encoding="utf-8")
    import torch

    torch.save({"planted": _Planted(tmp_path / MARKER)}, run / "adapter" / "adapter_model.bin")
    line = hearth(["merge", "r1"], tmp_path / "home").one_line_error()
    assert "adapter" in line and "pickle" in line
    assert not (tmp_path / MARKER).exists() and not (run / "merged").exists()


def with_header_length(tiny_base_dir: Path, where: Path, length: int) -> Path:
    """The tiny base whose safetensors file claims a header of `length` bytes."""
    model = Path(shutil.copytree(tiny_base_dir, where))
    weights = model / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[:8] = struct.pack("<Q", length)
    weights.write_bytes(bytes(data))
    return model


@pytest.mark.parametrize("command", ["convert", "verify", "train"])
def test_an_absurd_safetensors_header_length_is_one_line(tiny_base_dir, tiny_gguf, tmp_path, command):
    model = with_header_length(tiny_base_dir, tmp_path / "model", 2**60)
    args = {"convert": ["convert", str(model), str(tmp_path / "out.gguf")],
            "verify": ["verify", str(model), str(tiny_gguf)],
            "train": ["train", "--base", str(model), "--max-steps", "1"]}[command]
    result = hearth(args, tmp_path / "home")
    line = result.one_line_error()
    assert "model.safetensors" in line and "header" in line
    assert result.peak_rss_mb < 1500


@pytest.mark.parametrize("command", ["verify", "train"])
def test_a_safetensors_file_cut_short_is_one_line(tiny_base_dir, tiny_gguf, tmp_path, command):
    model = Path(shutil.copytree(tiny_base_dir, tmp_path / "model"))
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    args = {"verify": ["verify", str(model), str(tiny_gguf)],
            "train": ["train", "--base", str(model), "--max-steps", "1"]}[command]
    line = hearth(args, tmp_path / "home").one_line_error()
    assert "cut short" in line and "model.safetensors" in line


@pytest.mark.parametrize("keep", [100, 5000, 0.6])
def test_verify_on_a_truncated_gguf_is_one_line(tiny_base_dir, tiny_gguf, tmp_path, keep):
    cut = tmp_path / "cut.gguf"
    data = tiny_gguf.read_bytes()
    cut.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])
    line = hearth(["verify", str(tiny_base_dir), str(cut)], tmp_path / "home").one_line_error()
    assert "cut.gguf" in line and "not a complete GGUF file" in line


@pytest.mark.parametrize("field,value", [("hidden_size", 512), ("num_hidden_layers", 100_000),
                                         ("num_attention_heads", 3), ("vocab_size", 7), ("intermediate_size", -1)])
def test_convert_checks_config_json_against_the_tensors_first(tiny_base_dir, tmp_path, field, value):
    model = Path(shutil.copytree(tiny_base_dir, tmp_path / "model"))
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    config[field] = value
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    result = hearth(["convert", str(model), str(tmp_path / "out.gguf")], tmp_path / "home", timeout=120)
    line = result.one_line_error()
    assert f"'{field}'" in line and "config.json" in line
    assert not (tmp_path / "out.gguf").exists()
    assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name] == []
