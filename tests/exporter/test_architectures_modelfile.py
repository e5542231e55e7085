"""The Ollama Modelfile: its Go TEMPLATE writes the same prompt text as the model's Jinja template (shown
with a renderer for the Go subset it uses), its PARAMETERs carry the run's settings, and a persona's
system prompt and greeting go in where the template has a place for them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from exporter.chat_template import render
from exporter.go_template import GoTemplateError, render_go
from exporter.modelfile import Serving, go_template_from, modelfile_text, ollama_command
from hearth.chat_template import TemplateRefused
from tests.exporter.conftest import (GEMMA2_TEMPLATE, GEMMA3_TEMPLATE, LLAMA3_TEMPLATE, PHI3_TEMPLATE,
                                     SMOLLM_TEMPLATE, ZEPHYR_TEMPLATE)
from tuner.tiny_base import CHATML_TEMPLATE

TOKENS = {"eos_token": "</s>", "bos_token": ""}
CONVERSATIONS = [
    [{"role": "user", "content": "今天下雨了，我在你店里躲一会儿。"}],
    [{"role": "system", "content": "You are 林栀.\nSpeak softly."}, {"role": "user", "content": "Hi {{there}}"},
     {"role": "assistant", "content": "Hello!\n\nWelcome."}, {"role": "user", "content": "Draw one card."}],
    [{"role": "user", "content": "1"}, {"role": "assistant", "content": "2"}, {"role": "user", "content": "3"},
     {"role": "assistant", "content": "4"}, {"role": "user", "content": "5"}],
    [{"role": "system", "content": "Be kind."}, {"role": "assistant", "content": "Welcome back, friend."},
     {"role": "user", "content": "Thanks"}],
]


@pytest.mark.parametrize("name", ["chatml", "llama3", "zephyr", "gemma2", "gemma3", "phi3", "smollm"])
def test_the_go_template_writes_what_the_jinja_template_writes(name):
    template = {"chatml": CHATML_TEMPLATE, "llama3": LLAMA3_TEMPLATE, "zephyr": ZEPHYR_TEMPLATE,
                "gemma2": GEMMA2_TEMPLATE, "gemma3": GEMMA3_TEMPLATE, "phi3": PHI3_TEMPLATE,
                "smollm": SMOLLM_TEMPLATE}[name]
    go_text, _ = go_template_from(template, TOKENS)
    compared = 0
    for messages in CONVERSATIONS:
        try:
            expected = render(template, messages, add_generation_prompt=True, tokens=TOKENS)
        except TemplateRefused:  # the Jinja template refuses it (Gemma 2 and a system prompt): so does the file
            continue
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        assert render_go(go_text, system, messages) == expected, messages
        compared += 1
    assert compared >= 2


def test_the_go_renderer_knows_its_subset_and_refuses_the_rest():
    source = '{{ $p := "a" }}{{ range .Messages }}{{ if eq .Role "user" }}U:{{ .Content }}{{ $p = "u" }}' \
             '{{ else }}A:{{ .Content }}{{ end }}{{ end }}{{ if eq $p "u" }}>{{ end }}{{ "{{" }}'
    messages = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"},
                {"role": "user", "content": "z"}]
    assert render_go(source, "", messages) == "U:xA:yU:z>{{"
    for bad in ("{{ if .System }}open", "{{ end }}", "{{ .System | trim }}", "{{ range .Tools }}{{ end }}"):
        with pytest.raises(GoTemplateError):
            render_go(bad, "S", messages)


def test_modelfile_carries_settings_stop_system_and_greeting(smollm_dir):
    serving = Serving(settings={"n_ctx": 4096, "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
                                "repeat_penalty": 1.1, "max_reply_tokens": 512, "seed": -1, "model_path": None},
                      system_prompt="You are 林栀.", greeting="你来啦。")
    text, notes = modelfile_text(smollm_dir, "m-q8_0.gguf", ["<|im_end|>"], serving)
    lines = text.splitlines()
    assert lines[0] == "FROM ./m-q8_0.gguf" and notes == []
    for line in ("PARAMETER num_ctx 4096", "PARAMETER temperature 0.7", "PARAMETER top_p 0.9", "PARAMETER top_k 40",
                 "PARAMETER min_p 0.05", "PARAMETER repeat_penalty 1.1", "PARAMETER num_predict 512",
                 'PARAMETER stop "<|im_end|>"', 'SYSTEM """You are 林栀."""', 'MESSAGE assistant """你来啦。"""'):
        assert line in lines, line
    assert not any(line.startswith("PARAMETER seed") for line in lines)  # -1: a fresh seed per reply
    assert any(line.startswith('TEMPLATE """{{ $prev := "start" }}') for line in lines)


def test_a_template_without_a_place_for_them_leaves_system_and_greeting_out(gemma2_dir):
    text, notes = modelfile_text(gemma2_dir, "g.gguf", ["<end_of_turn>"],
                                 Serving(system_prompt="You are 林栀.", greeting="你来啦。"))
    assert "SYSTEM" not in text and "MESSAGE" not in text and "TEMPLATE" in text
    assert any("system prompt" in n for n in notes) and any("greeting" in n for n in notes)
    text, notes = modelfile_text(with_template(gemma2_dir, GEMMA3_TEMPLATE), "g.gguf", [], Serving(
        system_prompt="You are 林栀.", greeting="你来啦。"))
    assert 'SYSTEM """You are 林栀."""' in text and "MESSAGE" not in text  # Gemma 3 merges it into the first turn
    assert [n for n in notes if "greeting" in n]


def with_template(model_dir: Path, template: str) -> Path:
    """The model directory with another chat template (a copy beside it)."""
    copy = model_dir.parent / f"{model_dir.name}-{abs(hash(template)) % 10_000}"
    if not copy.exists():
        shutil.copytree(model_dir, copy)
        config = json.loads((copy / "tokenizer_config.json").read_text(encoding="utf-8"))
        (copy / "tokenizer_config.json").write_text(json.dumps({**config, "chat_template": template}), encoding="utf-8")
        (copy / "chat_template.jinja").unlink(missing_ok=True)
    return copy


def test_the_ollama_command_creates_and_runs_the_model():
    assert ollama_command("Run 1", Path("/runs/run 1/gguf/Modelfile")) == (
        "ollama create run-1 -f '/runs/run 1/gguf/Modelfile' && ollama run run-1")


def test_hearth_export_hands_the_persona_and_chat_settings_to_the_modelfile(tmp_path, monkeypatch):
    from companion.serving import serving_for
    from companion.settings import EngineSettings

    monkeypatch.setenv("HEARTH_HOME", str(tmp_path))
    settings = tmp_path / "chat.yaml"
    settings.write_text("temperature: 0.3\nn_ctx: 2048\n", encoding="utf-8")
    run = tmp_path / "run"
    run.mkdir()
    serving = Serving(**serving_for(run, persona="linzhi", settings=EngineSettings.from_yaml(settings)))
    assert serving.settings["temperature"] == 0.3 and serving.settings["n_ctx"] == 2048
    assert "林栀" in serving.system_prompt and serving.greeting
    plain = Serving(**serving_for(run))
    assert plain.system_prompt is None and plain.settings["top_k"] == 40  # the chat defaults
    (run / "data-report.json").write_text(json.dumps({"language": "en"}), encoding="utf-8")
    english = Serving(**serving_for(run, persona="linzhi"))  # an English run: her English card
    assert "Lin Zhi" in english.system_prompt and "林栀" not in english.system_prompt
