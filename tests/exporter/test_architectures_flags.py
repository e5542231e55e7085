"""Every supported architecture's GGUF carries add_bos/add_eos as its Hugging Face tokenizer really
adds them (verify's `specials` row); bad input to the new architectures is refused in one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gguf
import pytest

from exporter.convert import convert_hf_to_gguf
from exporter.export_report import FileReport
from exporter.verify import HFReference, special_additions, summary_lines
from hearth.errors import UserError
from tests.exporter.conftest import MODEL_FIXTURES, NEW_MODEL_FIXTURES

# What each tiny tokenizer puts around a text: BOS for Llama 3, Llama 2 and Gemma; nothing for Qwen,
# SmolLM and Phi-3 (whose SentencePiece model a runtime would otherwise give a BOS by default).
EXPECTED_BOS = {"qwen2_dir": False, "llama_bpe_dir": True, "llama_spm_dir": True, "qwen3_dir": False,
                "gemma2_dir": True, "gemma3_dir": True, "phi3_dir": False, "smollm_dir": False}


@pytest.mark.parametrize("model", MODEL_FIXTURES + NEW_MODEL_FIXTURES)
def test_add_bos_and_add_eos_are_written_as_the_tokenizer_adds_them(model, f16_files, request):
    model_dir = request.getfixturevalue(model)
    path = f16_files[model]
    fields = gguf.GGUFReader(path).fields
    assert fields["tokenizer.ggml.add_bos_token"].contents() is EXPECTED_BOS[model]
    assert fields["tokenizer.ggml.add_eos_token"].contents() is False
    row = special_additions(HFReference(model_dir), path)
    assert row["passed"], row
    assert bool(row["hf_bos"]) is EXPECTED_BOS[model]
    line = summary_lines(FileReport("m.gguf", "f16", specials=row))[0]
    assert line.startswith("bos/eos added: hf ") and "DIFFER" not in line


def test_a_flag_the_tokenizer_does_not_honour_shows_in_verify(llama_bpe_dir, tmp_path):
    path = convert_hf_to_gguf(llama_bpe_dir, tmp_path / "m.gguf")
    reference = HFReference(llama_bpe_dir)
    tokenizer_json = Path(shutil.copytree(llama_bpe_dir, tmp_path / "no-bos")) / "tokenizer.json"
    data = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    data["post_processor"] = None  # this tokenizer adds nothing; the GGUF still says add_bos
    tokenizer_json.write_text(json.dumps(data), encoding="utf-8")
    row = special_additions(HFReference(tokenizer_json.parent), path)
    assert not row["passed"] and row["hf_bos"] == [] and row["gguf_bos"] == [reference.ids("x")[0]]
    assert "DIFFER" in summary_lines(FileReport("m.gguf", "f16", specials=row))[0]


def test_a_gemma_without_its_tokenizer_files_is_refused_in_one_line(gemma2_dir, tmp_path, capsys):
    from tui.cli import main

    model = Path(shutil.copytree(gemma2_dir, tmp_path / "m"))
    for name in ("tokenizer.model", "tokenizer.json"):
        (model / name).unlink()
    assert main(["convert", str(model), str(tmp_path / "m.gguf")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no tokenizer hearth can convert" in err and "tokenizer.model" in err and len(err.splitlines()) == 1
    assert not list(tmp_path.glob("*.gguf"))


@pytest.mark.parametrize("field, value, message", [
    ("query_pre_attn_scalar", 144, "query_pre_attn_scalar 144 is not the attention scale"),
    ("hidden_activation", "gelu", "hidden_activation gelu"),
])
def test_a_gemma_config_llama_cpp_would_run_differently_is_refused(field, value, message, gemma2_dir, tmp_path):
    model = Path(shutil.copytree(gemma2_dir, tmp_path / "m"))
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    (model / "config.json").write_text(json.dumps({**config, field: value}), encoding="utf-8")
    with pytest.raises(UserError, match=f"{message}.*llama.cpp would run this model differently"):
        convert_hf_to_gguf(model, tmp_path / "m.gguf")
    assert not (tmp_path / "m.gguf").exists()


def test_the_unsupported_list_names_the_new_architectures(qwen2_dir, tmp_path):
    model = Path(shutil.copytree(qwen2_dir, tmp_path / "m"))
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    (model / "config.json").write_text(json.dumps({**config, "architectures": ["Gemma3ForConditionalGeneration"]}),
                                       encoding="utf-8")
    with pytest.raises(UserError, match="Gemma3ForConditionalGeneration.*not supported.*Gemma2ForCausalLM, "
                                        "Gemma3ForCausalLM.*Phi3ForCausalLM"):
        convert_hf_to_gguf(model, tmp_path / "m.gguf")
