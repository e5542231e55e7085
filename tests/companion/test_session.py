"""ChatSession: persona prompt + engine + budget + history, over real tiny models."""

from __future__ import annotations

import pytest
from scripted_model import SCRIPTED_ANSWER, SCRIPTED_REASONING

from companion.engine import STOP
from companion.history import HistoryStore
from companion.session import ChatSession
from hearth.errors import UserError


@pytest.fixture
def store(tmp_path):
    with HistoryStore(tmp_path / "history.db") as store:
        yield store


def test_two_hundred_turns_on_a_2048_token_context(scripted_gguf, engine_factory, store):
    engine = engine_factory(scripted_gguf, n_ctx=2048, max_reply_tokens=24)
    session = ChatSession(engine, store, system_prompt="你是林栀，在杭州开了一间茶和绿植的小店。")
    starts, stops = [], 0
    for turn in range(200):
        reply = session.send(f"第{turn}轮：今天下雨了，我在你店里躲一会儿，顺便聊聊茶和植物吧。").consume()
        fitted = session.last_fitted
        assert fitted.prompt_tokens + 24 <= 2048
        assert reply.prompt_tokens == fitted.prompt_tokens
        assert reply.prompt_tokens + reply.completion_tokens <= 2048
        assert fitted.messages[0]["content"].startswith("你是林栀")
        starts.append(fitted.first_history_index)
        stops += reply.finish_reason == STOP
    assert starts[-1] > 0 and starts == sorted(starts)  # trimmed, from the oldest side only
    assert len(set(starts)) < 20  # in a few blocks, not a message per turn
    assert stops > 100  # the scripted model still ends its turns itself deep into the context
    assert len(store.messages(session.chat_id)) == 400  # the history keeps everything the prompt dropped
    # within a block, the whole earlier prompt stayed cached
    assert reply.reused_tokens > reply.prompt_tokens - 80


def test_reply_is_stored_with_reasoning_and_stats(scripted_gguf, engine_factory, store):
    session = ChatSession(engine_factory(scripted_gguf), store)
    session.send("你好").consume()
    user, assistant = store.messages(session.chat_id)
    assert (user.role, user.content) == ("user", "你好")
    assert (assistant.content, assistant.reasoning) == (SCRIPTED_ANSWER, SCRIPTED_REASONING)
    assert assistant.stats["finish_reason"] == STOP and assistant.stats["completion_tokens"] > 0
    assert assistant.stats["ttft_s"] > 0


def test_retry_shows_a_new_reply_and_undo_takes_back_the_exchange(scripted_gguf, engine_factory, store):
    session = ChatSession(engine_factory(scripted_gguf), store)
    session.send("一").consume()
    session.send("二").consume()
    session.retry().consume()
    assert [m.content for m in store.messages(session.chat_id)] == ["一", SCRIPTED_ANSWER, "二", SCRIPTED_ANSWER]
    assert session.undo() == 2
    assert [m.content for m in store.messages(session.chat_id)] == ["一", SCRIPTED_ANSWER]
    assert [t.content for t in session.turns] == ["一", SCRIPTED_ANSWER]
    session.undo()
    with pytest.raises(UserError, match="nothing to undo"):
        session.undo()
    with pytest.raises(UserError, match="nothing to retry"):
        session.retry()


def test_a_cancelled_empty_reply_is_not_stored_and_retry_answers_the_waiting_message(
    scripted_gguf, engine_factory, store
):
    import threading

    session = ChatSession(engine_factory(scripted_gguf), store)
    cancel = threading.Event()
    cancel.set()
    stream = session.send("你好", cancel=cancel)
    iterator = iter(stream)
    for _ in iterator:  # the first token arrives before the cancel is seen; nothing visible yet
        break
    iterator.close()
    stored = [m.role for m in store.messages(session.chat_id)]
    assert stored in (["user"], ["user", "assistant"])
    if stored == ["user"]:
        session.retry().consume()
        assert [m.role for m in store.messages(session.chat_id)] == ["user", "assistant"]


def test_new_starts_another_chat_and_resume_continues_one(scripted_gguf, engine_factory, store):
    engine = engine_factory(scripted_gguf)
    session = ChatSession(engine, store, system_prompt="系统")
    session.send("第一次").consume()
    first = session.chat_id
    session.new()
    assert session.chat_id != first and session.turns == []
    resumed = ChatSession.resume(engine, store, first)
    assert [t.content for t in resumed.turns] == ["第一次", SCRIPTED_ANSWER]
    assert resumed.system_prompt == "系统"
    resumed.send("又来了").consume()
    assert len(store.messages(first)) == 4


def test_persona_greeting_system_prompt_examples_and_note(scripted_gguf, engine_factory, store):
    from companion.persona_choice import chat_persona

    chosen = chat_persona("linzhi")
    session = ChatSession.open(engine_factory(scripted_gguf, n_ctx=4096), store, chosen)
    assert session.turns[0].role == "assistant" and session.turns[0].content  # the greeting, stored
    assert store.chat(session.chat_id).persona == chosen.name
    session.send("你店里的馒头呢？").consume()
    messages = session.last_fitted.messages
    system = messages[0]["content"]
    assert messages[0]["role"] == "system" and "林栀" in system
    assert session.last_fitted.examples_kept
    assert any(m["role"] == "assistant" and "周报" in m["content"] for m in messages)  # an example dialogue
    assert "怕吸尘器" in system and "怕吸尘器" not in session.system_prompt  # the lorebook entry the message triggered
    note = messages[-1]
    assert note["role"] == "system" and "一到四句" in note["content"]  # post-history instructions, after the history
    assert "怕吸尘器" not in note["content"]
    assert messages[-2] == {"role": "user", "content": "你店里的馒头呢？"}


def test_open_continues_a_stored_chat_with_the_chosen_card(scripted_gguf, engine_factory, store):
    from companion.persona_choice import chat_persona

    engine, chosen = engine_factory(scripted_gguf, n_ctx=4096), chat_persona("linzhi")
    first = ChatSession.open(engine, store, chosen)
    first.send("你好").consume()
    again = ChatSession.open(engine, store, chosen, resume=first.chat_id)
    assert again.chat_id == first.chat_id and [t.content for t in again.turns] == [t.content for t in first.turns]
    assert again.persona is chosen.prompt and again.persona_name == chosen.name


def test_switching_persona_starts_a_new_chat(scripted_gguf, engine_factory, store):
    from personas.library import find_persona
    from personas.prompt import render_persona

    session = ChatSession(engine_factory(scripted_gguf), store)
    plain = session.chat_id
    card = find_persona("林栀")
    session.set_persona(render_persona(card), card.name)
    assert session.chat_id != plain and session.turns[0].role == "assistant"
