"""Curation while chatting: /retry keeps alternatives, swipes choose one, edits keep the original, ratings
and keeping — in the session, in the history (migration 4, an older file upgraded in place) and in `hearth chat`."""

from __future__ import annotations

import sqlite3

import pytest
from scripted_model import SCRIPTED_ANSWER

from companion.history import MIGRATIONS, HistoryStore, database, latest_version
from companion.session import ChatSession
from hearth.errors import UserError


@pytest.fixture
def store(tmp_path):
    with HistoryStore(tmp_path / "history.db") as store:
        yield store


def test_an_older_history_upgrades_in_place_and_keeps_everything(tmp_path, monkeypatch):
    path = tmp_path / "history.db"
    monkeypatch.setattr(database, "MIGRATIONS", MIGRATIONS[:3])  # the file as hearth wrote it before curation
    with HistoryStore(path) as old:
        chat = old.create_chat(persona="林栀", system_prompt="你是林栀")
        old.add_message(chat, "user", "你好")
        reply = old.add_message(chat, "assistant", "哟", stats={"finish_reason": "stop", "completion_tokens": 2})
        old.update_chat(chat, kept=True)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    assert "alternatives" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    monkeypatch.undo()
    with HistoryStore(path) as store:
        assert [(m.role, m.content, m.original, m.rating, m.chosen) for m in store.messages(chat)] == [
            ("user", "你好", None, None, None), ("assistant", "哟", None, None, None)]
        assert store.chat(chat).kept and store.chat(chat).rating is None
        assert store.add_alternative(reply.id, "嗨", stats={"finish_reason": "stop"}) == 1
        store.edit_message(reply.id, "嗨，进来坐")
        store.rate_message(reply.id, 5)
        store.update_chat(chat, rating=4)
    with HistoryStore(path) as store:
        shown = store.messages(chat)[1]
        assert (shown.content, shown.original, shown.rating, shown.chosen) == ("嗨，进来坐", "嗨", 5, 1)
        assert [(a.number, a.content, a.original, a.rating) for a in store.alternatives(reply.id)] == [
            (0, "哟", None, None), (1, "嗨，进来坐", "嗨", 5)]
        assert store.alternatives(reply.id)[0].stats == {"finish_reason": "stop", "completion_tokens": 2}
        assert store.chat(chat).rating == 4
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == latest_version() == 4
    assert [tuple(r) for r in db.execute("SELECT version, name FROM schema_migrations")] == [
        (1, "chats and messages"), (2, "tarot readings"), (3, "readings keep their prompt's context"),
        (4, "curation: swipes, edits, ratings")]


def test_ratings_out_of_range_and_unknown_messages_are_refused(store):
    chat = store.create_chat()
    reply = store.add_message(chat, "assistant", "哟")
    for bad in (0, 6, "5", True):
        with pytest.raises(UserError, match="whole number from 1 to 5"):
            store.rate_message(reply.id, bad)
        with pytest.raises(UserError, match="whole number from 1 to 5"):
            store.update_chat(chat, rating=bad)
    with pytest.raises(UserError, match="no message with id 99"):
        store.edit_message(99, "x")
    with pytest.raises(UserError, match="no number 3"):
        store.choose_alternative(reply.id, 3)
    assert store.messages(chat)[0].rating is None


def test_retry_keeps_alternatives_swipe_chooses_edit_keeps_the_original(scripted_gguf, engine_factory, store):
    engine = engine_factory(scripted_gguf)
    session = ChatSession(engine, store, system_prompt="系统")
    session.send("一").consume()
    stream = session.retry()
    assert stream.after == 1  # the new reply follows the user's message, not the reply it stands beside
    stream.consume()
    reply_id = session.turns[-1].message_id
    assert [a.number for a in store.alternatives(reply_id)] == [0, 1]
    assert session.turns[-1].chosen == 1 and store.message(reply_id).chosen == 1
    assert session.last_fitted.messages[-1] == {"role": "user", "content": "一"}  # the old reply is not in the prompt
    session.edit_reply("改过的回答")
    assert session.swipe(1).content == SCRIPTED_ANSWER  # round the end: back to the first
    assert store.message(reply_id).chosen == 0
    turn = session.swipe(-1)
    assert (turn.content, turn.original, turn.chosen) == ("改过的回答", SCRIPTED_ANSWER, 1)
    session.rate_reply(2)
    session.rate_chat(4)
    session.keep("好", kept=True)
    resumed = ChatSession.resume(engine, store, session.chat_id)
    last = resumed.turns[-1]
    assert (last.content, last.original, last.rating, last.chosen, len(last.alternatives)) == (
        "改过的回答", SCRIPTED_ANSWER, 2, 1, 2)
    record = store.chat(session.chat_id)
    assert (record.kept, record.rating, record.title) == (True, 4, "好")
    assert resumed.swipe(1).content == SCRIPTED_ANSWER
    session.keep(kept=False)
    assert not store.chat(session.chat_id).kept
    assert [m.content for m in store.messages(session.chat_id)] == ["一", SCRIPTED_ANSWER]
    session.undo()
    assert store.alternatives(reply_id) == []  # undo takes the alternatives with the reply


def test_curation_needs_a_reply_and_sane_input(scripted_gguf, engine_factory, store):
    session = ChatSession(engine_factory(scripted_gguf), store)
    with pytest.raises(UserError, match="no reply to edit"):
        session.edit_reply("x")
    session.send("一").consume()
    with pytest.raises(UserError, match="no alternatives"):
        session.swipe(1)
    with pytest.raises(UserError, match="empty"):
        session.edit_reply("   ")
    with pytest.raises(UserError, match="1 to 5"):
        session.rate_reply(7)
    unstored = ChatSession(engine_factory(scripted_gguf), None)
    unstored.send("一").consume()
    unstored.retry().consume()
    assert len(unstored.turns[-1].alternatives) == 2 and unstored.swipe(1).chosen == 0
    with pytest.raises(UserError, match="cannot be rated"):
        unstored.rate_chat(3)


def test_the_terminal_chat_curates(scripted_gguf, engine_factory, hearth_home):
    import io

    from rich.console import Console

    from tui.commands.chat import ChatRepl

    with HistoryStore() as store:
        session = ChatSession(engine_factory(scripted_gguf), store, system_prompt="你是林栀。")
        lines = iter(["你好", "/retry", "/prev", "/next", "/edit", "写得更好的回答", "/rate 5", "/rate 9",
                      "/rate chat 4", "/keep 第一次", "/swipe sideways", "/quit"])
        buffer = io.StringIO()
        console = Console(file=buffer, width=100, highlight=False, color_system=None)
        assert ChatRepl(session, console, lambda prompt: next(lines)).run() == 0
        out = buffer.getvalue()
        assert "reply 2 of 2" in out and "reply 1 of 2" in out
        assert "写得更好的回答" in out and "rated the last reply 5/5" in out
        assert "a rating is a whole number from 1 to 5, got 9" in out and "/swipe takes next or prev" in out
        reply = store.messages(session.chat_id)[-1]
        assert (reply.content, reply.original, reply.rating, reply.chosen) == ("写得更好的回答", SCRIPTED_ANSWER, 5, 1)
        record = store.chat(session.chat_id)
        assert (record.kept, record.title, record.rating) == (True, "第一次", 4)


def test_an_earlier_reply_is_edited_and_rated_by_its_number(scripted_gguf, engine_factory, store):
    session = ChatSession(engine_factory(scripted_gguf), store, system_prompt="系统")
    session.send("一").consume()
    session.retry().consume()  # reply #1 has two alternatives, the second shown
    session.send("二").consume()
    first, second = [turn.message_id for turn in session.replies()]
    assert session.reply(1).message_id == first and session.reply().message_id == second
    turn = session.edit_reply("改过的第一个", 1)
    session.rate_reply(5, 1)
    assert turn is session.turns[1] and (turn.content, turn.original, turn.rating) == (
        "改过的第一个", SCRIPTED_ANSWER, 5)
    stored = store.message(first)  # kept as an edit of the last reply is: the first text in `original`
    assert (stored.content, stored.original, stored.rating, stored.chosen) == ("改过的第一个", SCRIPTED_ANSWER, 5, 1)
    assert [(a.content, a.original, a.rating) for a in store.alternatives(first)] == [
        (SCRIPTED_ANSWER, None, None), ("改过的第一个", SCRIPTED_ANSWER, 5)]  # the alternative shown changed
    later = store.message(second)
    assert (later.content, later.original, later.rating) == (SCRIPTED_ANSWER, None, None)
    session.send("三").consume()  # what follows is prompted with the chat as it reads now
    assert {"role": "assistant", "content": "改过的第一个"} in session.last_fitted.messages
    resumed = ChatSession.resume(session.engine, store, session.chat_id).reply(1)
    assert (resumed.content, resumed.original, resumed.rating) == ("改过的第一个", SCRIPTED_ANSWER, 5)
    for bad in (0, 4):
        with pytest.raises(UserError, match=f"no reply #{bad} to edit: the companion's 3 replies are numbered"):
            session.edit_reply("x", bad)
        with pytest.raises(UserError, match=f"no reply #{bad} to rate"):
            session.rate_reply(3, bad)
    assert [m.original for m in store.messages(session.chat_id)] == [None, SCRIPTED_ANSWER, None, None, None, None]


def test_the_terminal_chat_edits_and_rates_an_earlier_reply_by_the_number_history_shows(
        scripted_gguf, engine_factory, hearth_home):
    import io

    from rich.console import Console

    from tui.commands.chat import ChatRepl

    with HistoryStore() as store:
        session = ChatSession(engine_factory(scripted_gguf), store, system_prompt="你是林栀。")
        lines = iter(["你好", "再来", "/edit 1 第一个回答，改过", "/rate #1 4", "/edit 2", "第二个，也改过",
                      "/edit 7 x", "/rate 2 9", "/history", "/quit"])
        buffer = io.StringIO()
        console = Console(file=buffer, width=100, highlight=False, color_system=None)
        assert ChatRepl(session, console, lambda prompt: next(lines)).run() == 0
        out = buffer.getvalue()
        assert "edited reply #1; the first text is kept" in out and "rated reply #1 4/5" in out
        assert "edited reply #2" in out and "there is no reply #7 to edit" in out
        assert "a rating is a whole number from 1 to 5, got 9" in out
        listed = out[out.rindex("\n    你 › 你好") + 1:].splitlines()[:4]  # /history: the companion's numbered
        assert [line.split("›")[0].strip() for line in listed] == ["你", "#1  assistant", "你", "#2  assistant"]
        assert listed[1].endswith("第一个回答，改过  [rated 4/5 · edited]") and listed[3].endswith("[edited]")
        replies = [m for m in store.messages(session.chat_id) if m.role == "assistant"]
        assert [(m.content, m.original, m.rating) for m in replies] == [
            ("第一个回答，改过", SCRIPTED_ANSWER, 4), ("第二个，也改过", SCRIPTED_ANSWER, None)]
