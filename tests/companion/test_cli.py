"""`hearth chat` (piped and interactive) and `hearth history`, through `tui.cli.main`."""

from __future__ import annotations

import io
import json
import threading

import pytest
from rich.console import Console
from scripted_model import SCRIPTED_ANSWER, SCRIPTED_REASONING

from companion.history import HistoryStore
from hearth.paths import history_db
from tui.cli import main
from tui.commands import chat as chat_command


def _pipe(monkeypatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_piped_message_prints_one_reply_and_exits(scripted_gguf, monkeypatch, capsys):
    _pipe(monkeypatch, "你好\n")
    code = main(["chat", "--model", str(scripted_gguf), "--temperature", "0", "--ctx", "1024", "--threads", "1"])
    out, err = capsys.readouterr()
    assert code == 0
    assert out == SCRIPTED_ANSWER + "\n"  # the answer only: no reasoning, no decoration
    assert err == ""  # llama.cpp stays silent
    with HistoryStore() as store:
        (chat,) = store.chats()
        assert [m.content for m in store.messages(chat.id)] == ["你好", SCRIPTED_ANSWER]


def test_piped_chat_with_the_persona_stores_its_greeting_first(scripted_gguf, monkeypatch, capsys):
    _pipe(monkeypatch, "今天下雨了")
    code = main(["chat", "--model", str(scripted_gguf), "--persona", "linzhi", "--ctx", "4096", "--threads", "1",
                 "--temperature", "0"])
    assert code == 0 and capsys.readouterr().out == SCRIPTED_ANSWER + "\n"
    with HistoryStore() as store:
        (chat,) = store.chats()
        roles = [m.role for m in store.messages(chat.id)]
    assert chat.persona == "林栀" and roles == ["assistant", "user", "assistant"]


def test_empty_stdin_and_a_missing_model_are_one_line_errors(scripted_gguf, monkeypatch, capsys, tmp_path):
    _pipe(monkeypatch, "   \n")
    assert main(["chat", "--model", str(scripted_gguf)]) == 2
    assert "stdin was empty" in capsys.readouterr().err
    _pipe(monkeypatch, "你好")
    assert main(["chat", "--model", str(tmp_path / "none.gguf")]) == 2
    assert "no run named" in capsys.readouterr().err
    _pipe(monkeypatch, "你好")
    assert main(["chat"]) == 2
    assert "no model named and no exported run" in capsys.readouterr().err


def test_model_from_a_run_prefers_the_quantized_file(scripted_gguf, hearth_home, monkeypatch, capsys):
    from companion.models import resolve_model

    gguf_dir = hearth_home / "runs" / "run-1" / "gguf"
    gguf_dir.mkdir(parents=True)
    for name in ("tiny-f16.gguf", "tiny-q8_0.gguf", "tiny-lora.gguf"):
        (gguf_dir / name).write_bytes(scripted_gguf.read_bytes())
    assert resolve_model("run-1").name == "tiny-q8_0.gguf"
    assert resolve_model(None).name == "tiny-q8_0.gguf"  # the newest exported run
    _pipe(monkeypatch, "你好")
    assert main(["chat", "--model", "run-1", "--ctx", "1024", "--threads", "1", "--temperature", "0"]) == 0
    assert capsys.readouterr().out == SCRIPTED_ANSWER + "\n"


def _run_repl(session, lines: list[str], show_thinking=True) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, highlight=False, color_system=None)
    script = iter(lines)

    def read_line(prompt: str) -> str:
        console.print(prompt, end="")
        try:
            line = next(script)
        except StopIteration:
            raise EOFError from None
        console.print(line)
        return line

    assert chat_command.ChatRepl(session, console, read_line, show_thinking=show_thinking).run() == 0
    return buffer.getvalue()


@pytest.fixture
def session(scripted_gguf, engine_factory):
    from companion.session import ChatSession

    store = HistoryStore()
    yield ChatSession(engine_factory(scripted_gguf), store, system_prompt="你是林栀。")
    store.close()


def test_interactive_chat_commands(session):
    transcript = _run_repl(session, ["你好", "/retry", "再来", "/undo", "/save 第一次聊天", "/help", "/bogus", "/quit"])
    assert transcript.count(f"assistant › {SCRIPTED_REASONING}\n{SCRIPTED_ANSWER}") == 3
    assert "took back 2 message(s)" in transcript
    assert "kept chat" in transcript and "unknown command /bogus" in transcript
    record = session.store.chat(session.chat_id)
    assert record.kept and record.title == "第一次聊天"
    assert [m.content for m in session.store.messages(session.chat_id)] == ["你好", SCRIPTED_ANSWER]


def test_hidden_thinking_and_new_and_persona(session):
    first = session.chat_id
    transcript = _run_repl(session, ["你好", "/new", "/persona linzhi", "在吗"], show_thinking=False)
    assert SCRIPTED_REASONING not in transcript.replace("林栀", "")
    assert f"new chat #{first + 1}" in transcript and f"new chat #{first + 2} with 林栀" in transcript
    assert "林栀 › " in transcript  # the greeting, then the reply, speak as the persona
    assert session.persona_name == "林栀" and session.chat_id == first + 2


def test_ctrl_c_while_streaming_cancels_the_reply_not_the_chat(random_gguf, engine_factory):
    import os
    import signal

    from companion.session import ChatSession

    session = ChatSession(engine_factory(random_gguf, max_reply_tokens=1000), None)
    console = Console(file=io.StringIO(), width=100)

    class CtrlCAfterThreeChunks:
        def __init__(self, stream):
            self.stream = stream

        reply = property(lambda self: self.stream.reply)

        def __iter__(self):
            for n, chunk in enumerate(self.stream):
                if n == 3:
                    os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does
                yield chunk

    def make_stream(cancel):
        return CtrlCAfterThreeChunks(session.send("你好", cancel=cancel))

    from tui.reply_stream import show_reply

    reply = show_reply(console, "assistant", make_stream)
    assert reply.finish_reason == "cancelled" and reply.completion_tokens < 20
    assert threading.current_thread() is threading.main_thread()
    assert "stopped" in console.file.getvalue()


def test_history_lists_shows_and_exports(scripted_gguf, monkeypatch, capsys, tmp_path):
    for text in ("第一句", "第二句"):
        _pipe(monkeypatch, text)
        assert main(["chat", "--model", str(scripted_gguf), "--ctx", "1024", "--threads", "1",
                     "--temperature", "0"]) == 0
    capsys.readouterr()
    assert main(["history", "chats"]) == 0
    listing = capsys.readouterr().out
    assert "│ 1 " in listing and "│ 2 " in listing and "tiny-scri" in listing
    assert main(["history", "chats", "1"]) == 0
    shown = capsys.readouterr().out
    assert "第一句" in shown and SCRIPTED_ANSWER in shown and f"(thinking) {SCRIPTED_REASONING}" in shown
    out = tmp_path / "data.jsonl"
    assert main(["history", "export-dataset", str(out)]) == 2  # nothing kept yet
    assert "no kept chats" in capsys.readouterr().err
    assert main(["history", "export-dataset", "--chats", "1,2", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["messages"][0]["content"] for r in rows] == ["第一句", "第二句"]
    assert main(["history", "export-dataset", "--chats", "one", str(out)]) == 2
    assert "chat ids separated by commas" in capsys.readouterr().err


def test_resume_continues_the_stored_chat(scripted_gguf, monkeypatch, capsys):
    _pipe(monkeypatch, "第一句")
    assert main(["chat", "--model", str(scripted_gguf), "--ctx", "1024", "--threads", "1", "--temperature", "0"]) == 0
    _pipe(monkeypatch, "第二句")
    assert main(["chat", "--resume", "1", "--threads", "1"]) == 0  # the chat's own model and settings
    with HistoryStore(history_db()) as store:
        assert [m.content for m in store.messages(1)] == ["第一句", SCRIPTED_ANSWER, "第二句", SCRIPTED_ANSWER]
        assert len(store.chats()) == 1


def test_demo_chat_prints_two_turns_with_linzhi_and_stores_them(scripted_gguf):
    buffer = io.StringIO()
    console = Console(file=buffer, width=100, highlight=False, color_system=None)
    chat_id = chat_command.demo_chat(scripted_gguf, console=console)
    transcript = buffer.getvalue()
    for line in chat_command.DEMO_TURNS["zh"]:
        assert f"你 › {line}" in transcript
    assert transcript.count("林栀 › ") == 3  # the greeting and two replies
    with HistoryStore() as store:
        assert [m.role for m in store.messages(chat_id)] == ["assistant", "user", "assistant", "user", "assistant"]
        assert store.chat(chat_id).kept
