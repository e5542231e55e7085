"""A chat's persona card follows the language of the run behind its model (companion.persona_choice),
through `hearth chat` and the TUI chat screen alike; an explicit --language wins."""

from __future__ import annotations

import io
import json
import shutil

import pytest

from companion.history import HistoryStore
from companion.persona_choice import chat_persona, model_language
from hearth.errors import UserError
from hearth.language import text_language
from tui.cli import main

EN_ROW = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello there, come in."}]}
AQUA = {"spec": "chara_card_v2", "spec_version": "2.0",
        "data": {"name": "Aqua", "description": "{{char}} is a water spirit who talks to {{user}}.", "first_mes": "Hi!"}}
ZH_ROW = {"messages": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "来啦，先坐。"}]}


def make_run(root, *, report: dict | None = None, heldout: dict | None = None, model=None):
    """A run folder as training and export leave it: data-report.json and/or heldout.jsonl, gguf/."""
    (root / "gguf").mkdir(parents=True)
    if report is not None:
        (root / "data-report.json").write_text(json.dumps(report), encoding="utf-8")
    if heldout is not None:
        (root / "heldout.jsonl").write_text(json.dumps(heldout, ensure_ascii=False) + "\n", encoding="utf-8")
    target = root / "gguf" / f"{root.name}-f16.gguf"
    if model is not None:
        shutil.copy(model, target)
    else:
        target.write_bytes(b"GGUF")
    return target


def test_the_run_language_comes_from_the_report_then_the_heldout_rows(tmp_path):
    assert model_language(make_run(tmp_path / "en-run", report={"language": "en"})) == "en"
    assert model_language(make_run(tmp_path / "zh-run", report={"language": "zh"})) == "zh"
    assert model_language(make_run(tmp_path / "old-run", heldout=EN_ROW)) == "en"  # a report from before languages
    loose = tmp_path / "downloads" / "model.gguf"
    loose.parent.mkdir()
    loose.write_bytes(b"GGUF")
    assert model_language(loose) is None and model_language(None) is None


def test_a_lora_counts_before_the_shared_base(tmp_path):
    base = make_run(tmp_path / "zh-run", report={"language": "zh"})  # stands in for any GGUF of another run
    lora = make_run(tmp_path / "en-run", report={"language": "en"})
    assert model_language(base, lora) == "en"


@pytest.mark.parametrize("language, name, user", [("en", "Lin Zhi", "User"), ("zh", "林栀", "你")])
def test_chat_persona_takes_the_card_of_the_run_language(tmp_path, language, name, user):
    model = make_run(tmp_path / "run", report={"language": language})
    chosen = chat_persona("linzhi", model_path=model)
    assert (chosen.name, chosen.language, chosen.user_name) == (name, language, user)
    assert text_language(chosen.prompt.system) == language
    plain = chat_persona(None, model_path=model)  # no persona: only the person's default name follows the run
    assert (plain.prompt, plain.name, plain.user_name) == (None, "", user)


def test_explicit_language_and_user_win_and_a_missing_language_is_refused(tmp_path):
    model = make_run(tmp_path / "run", report={"language": "en"})
    chosen = chat_persona("linzhi", model_path=model, language="zh", user_name="Sam")
    assert chosen.name == "林栀" and chosen.user_name == "Sam" and "Sam" in chosen.prompt.system
    assert chat_persona("linzhi").name == "林栀"  # no run: the persona's own card
    card = tmp_path / "aqua.json"
    card.write_text(json.dumps(AQUA), encoding="utf-8")
    assert chat_persona(str(card), model_path=make_run(tmp_path / "zh", report={"language": "zh"})).name == "Aqua"
    with pytest.raises(UserError, match="has no Chinese card"):
        chat_persona(str(card), language="zh")
    with pytest.raises(UserError, match="unknown language 'fr'"):
        chat_persona("linzhi", language="fr")


def _piped_chat(monkeypatch, *flags):
    monkeypatch.setattr("sys.stdin", io.StringIO("hello"))
    assert main(["chat", *flags, "--persona", "linzhi", "--ctx", "4096", "--threads", "1", "--temperature", "0"]) == 0
    with HistoryStore() as store:
        chat = max(store.chats(), key=lambda record: record.id)  # this call's chat
        return chat, store.messages(chat.id)[0].content


def test_hearth_chat_on_an_english_run_talks_as_the_english_card(scripted_gguf, hearth_home, monkeypatch, capsys):
    model = make_run(hearth_home / "runs" / "en-run", report={"language": "en"}, model=scripted_gguf)
    chat, greeting = _piped_chat(monkeypatch, "--model", "en-run")
    assert chat.persona == "Lin Zhi" and "Half Window" in chat.system_prompt and text_language(greeting) == "en"
    assert "between Lin Zhi and User" in chat.system_prompt
    chat, greeting = _piped_chat(monkeypatch, "--model", str(model), "--language", "zh")
    assert chat.persona == "林栀" and text_language(greeting) == "zh"


def test_hearth_chat_on_a_chinese_run_talks_as_the_chinese_card(scripted_gguf, hearth_home, monkeypatch):
    make_run(hearth_home / "runs" / "zh-run", heldout=ZH_ROW, model=scripted_gguf)
    chat, greeting = _piped_chat(monkeypatch, "--model", "zh-run")
    assert chat.persona == "林栀" and "半窗" in chat.system_prompt and text_language(greeting) == "zh"


@pytest.mark.parametrize("language, name, user", [("en", "Lin Zhi", "User"), ("zh", "林栀", "你")])
def test_the_tui_chat_opens_the_card_of_the_run_language(scripted_gguf, engine_factory, tmp_path, language, name,
                                                       user):
    from tui.screens.chat import open_chat_session

    model = make_run(tmp_path / "run", report={"language": language}, model=scripted_gguf)
    session = open_chat_session(engine_factory(model, n_ctx=4096), None, "linzhi", None, None)
    assert (session.persona_name, session.user_name) == (name, user)
    assert text_language(session.turns[0].content) == language  # her greeting
