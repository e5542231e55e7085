"""The chat screen talks to a real tiny GGUF: the greeting first, a streamed reply with its numbers,
stored in the history; Esc stops a reply; undo, retry and resuming a stored chat."""

from __future__ import annotations

from pathlib import Path

from tui_helpers import make_run, wait_for

import tui.app

from companion.history import HistoryStore
from companion.settings import EngineSettings
from hearth.paths import history_db
from tui.app import HearthApp
from tui.screens.chat import ChatScreen
from tui.widgets.message_bubble import MessageBubble

RUN = "tiny-offline-20250101-000000"


def _app(**settings) -> HearthApp:
    return HearthApp(engine_settings=EngineSettings(n_ctx=4096, n_threads=2, seed=1, **settings))


async def _open_chat(pilot, app) -> ChatScreen:
    await pilot.press("c")
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    await wait_for(pilot, lambda: screen.session is not None, what="the model to load")
    return screen


async def _say(pilot, screen: ChatScreen, text: str) -> None:
    screen.query_one("#prompt").value = text
    await pilot.press("enter")


def _bubbles(screen: ChatScreen) -> list[MessageBubble]:
    return screen.conversation.bubbles


async def test_chat_streams_a_reply_and_stores_it(tiny_gguf):
    make_run(RUN, gguf=tiny_gguf)
    app = _app(max_reply_tokens=16)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_chat(pilot, app)
        before = str(screen.query_one("#chat-status").render())
        greeting_prompt = screen.session.budget.fit(screen.session.prompt_parts()).prompt_tokens
        assert before.startswith(f"context {greeting_prompt}/4096 · chat #"), before  # no reply yet: no speed
        greeting = _bubbles(screen)
        assert [b.role for b in greeting] == ["assistant"] and greeting[0].content  # 林栀 speaks first
        assert greeting[0].speaker == "林栀"
        await _say(pilot, screen, "你好")
        await wait_for(pilot, lambda: screen.cancel is None and len(_bubbles(screen)) == 3, what="the reply")
        reply = _bubbles(screen)[-1]
        assert reply.role == "assistant" and reply.content
        assert reply.stats["completion_tokens"] == 16 and reply.stats["finish_reason"] == "length"
        stats_shown = str(reply.query_one(".stats").render())
        assert "tok/s" in stats_shown and "first token" in stats_shown and "cut at the length limit" in stats_shown
        assert reply.body.source == reply.content  # the streamed Markdown ended as the stored text
        status = str(screen.query_one("#chat-status").render())
        used = reply.stats["prompt_tokens"] + reply.stats["completion_tokens"]
        assert status.startswith(f"context {used}/4096 · {reply.stats['tokens_per_s']:.1f} tok/s"), status
        chat_id = screen.session.chat_id
    with HistoryStore(history_db()) as store:
        stored = store.messages(chat_id)
        assert [m.role for m in stored] == ["assistant", "user", "assistant"]
        assert stored[1].content == "你好"
        assert stored[2].content == reply.content and stored[2].stats["completion_tokens"] == 16
        assert store.chat(chat_id).model.endswith(f"{RUN}-f16.gguf")


async def test_escape_stops_a_reply_in_progress(tiny_gguf, monkeypatch):
    import time

    import tui.screens.chat

    make_run(RUN, gguf=tiny_gguf)
    # The tiny model writes thousands of tokens a second: slow the stream down so Esc surely lands mid-reply.
    fast_batched = tui.screens.chat.batched

    def slow_batched(chunks):
        for chunk in fast_batched(chunks):
            time.sleep(0.02)
            yield chunk

    monkeypatch.setattr(tui.screens.chat, "batched", slow_batched)
    app = _app(max_reply_tokens=1500)  # with seed 1 the untrained base rambles on for hundreds of tokens
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_chat(pilot, app)
        await _say(pilot, screen, "你好")
        await wait_for(pilot, lambda: len(_bubbles(screen)) == 3 and _bubbles(screen)[-1].content.strip(),
                       what="the reply to start streaming")
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.cancel is None, what="the reply to stop")
        assert isinstance(app.screen, ChatScreen)  # Esc stopped the reply; it did not leave the chat
        reply = _bubbles(screen)[-1]
        assert reply.stats["finish_reason"] == "cancelled"
        assert 0 < reply.stats["completion_tokens"] < 1500
        assert "stopped" in str(reply.query_one(".stats").render())
        stored = screen.session.store.messages(screen.session.chat_id)
        assert stored[-1].content == reply.content  # what was said before the stop is kept
        await pilot.press("escape")  # nothing streaming: back home
        assert not isinstance(app.screen, ChatScreen)


async def test_choosing_another_persona_starts_a_new_chat(tiny_gguf):
    from tui.catalog import NO_PERSONA

    make_run(RUN, gguf=tiny_gguf)
    app = _app(max_reply_tokens=8)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_chat(pilot, app)
        first = screen.session
        screen.query_one("#persona").value = NO_PERSONA
        await wait_for(pilot, lambda: screen.session is not None and screen.session is not first,
                       what="the new session")
        assert screen.session.persona_name == "" and screen.session.chat_id != first.chat_id
        assert screen.session.engine is first.engine  # same model: not loaded again
        assert _bubbles(screen) == []  # no persona, no greeting
        await _say(pilot, screen, "hi")
        await wait_for(pilot, lambda: screen.cancel is None and len(_bubbles(screen)) == 2, what="the reply")
        assert _bubbles(screen)[-1].speaker == screen.session.engine.model_name


async def test_undo_retry_new_and_resume(tiny_gguf):
    make_run(RUN, gguf=tiny_gguf)
    app = _app(max_reply_tokens=8)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_chat(pilot, app)
        await _say(pilot, screen, "第一句")
        await wait_for(pilot, lambda: screen.cancel is None and len(_bubbles(screen)) == 3, what="the reply")
        first_reply = _bubbles(screen)[-1]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: screen.cancel is None and len(_bubbles(screen)) == 3
                       and _bubbles(screen)[-1] is not first_reply, what="a new reply")
        stored = screen.session.store.messages(screen.session.chat_id)
        assert [m.role for m in stored] == ["assistant", "user", "assistant"]  # replaced, not added
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert [b.role for b in _bubbles(screen)] == ["assistant"]  # back to the greeting
        chat_id = screen.session.chat_id
        await _say(pilot, screen, "第二句")
        await wait_for(pilot, lambda: screen.cancel is None and len(_bubbles(screen)) == 3, what="the reply")
        kept = [b.content for b in _bubbles(screen)]
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert screen.session.chat_id != chat_id and len(_bubbles(screen)) == 1
        await pilot.press("escape")
        app.screen.action_refresh()
        await pilot.pause()
        app.open_chat(resume=chat_id)  # what choosing the chat on the home screen does
        await pilot.pause()
        resumed = app.screen
        await wait_for(pilot, lambda: resumed.session is not None, what="the chat to resume")
        assert resumed.session.chat_id == chat_id
        assert [b.content for b in _bubbles(resumed)] == kept


async def test_reasoning_streams_into_a_folding_block_above_the_answer():
    from textual.app import App

    from companion.engine import Reply
    from tui.widgets.reasoning_block import ReasoningBlock

    class OneBubble(App):
        CSS_PATH = str(Path(tui.app.__file__).with_name(HearthApp.CSS_PATH))

        def compose(self):
            yield MessageBubble("assistant", "林栀")

    app = OneBubble()
    async with app.run_test(size=(100, 30)) as pilot:
        bubble = app.query_one(MessageBubble)
        block = bubble.query_one(ReasoningBlock)
        assert not block.display  # no reasoning, no block
        await bubble.add("先想一想", "reasoning")
        await pilot.pause()
        assert block.display and not block.collapsed and "先想一想" in str(block.query_one(".thoughts").render())
        await bubble.add("你好呀", "answer")
        await pilot.pause()
        assert block.collapsed and block.title == "thoughts"  # folded once the answer begins
        reply = Reply(text="你好呀", reasoning="先想一想", finish_reason="stop", prompt_tokens=10, reused_tokens=0,
                      completion_tokens=6, ttft_s=0.05, tokens_per_s=80.0, total_s=0.2)
        await bubble.finish(reply)
        assert bubble.key == ("assistant", "你好呀", "先想一想") and bubble.body.source == "你好呀"
        assert str(bubble.query_one(".stats").render()) == "6 tokens · 80.0 tok/s · first token 0.05s"


async def test_replies_render_markdown_with_actions_in_italics():
    """Roleplay cards write actions as *…*: the bubble shows them in italics, also while streaming."""
    from textual.app import App
    from textual.widgets._markdown import MarkdownParagraph

    from companion.engine import Reply

    class OneBubble(App):
        CSS_PATH = str(Path(tui.app.__file__).with_name(HearthApp.CSS_PATH))

        def compose(self):
            yield MessageBubble("assistant", "林栀")

    def styled(bubble, style: str) -> list[str]:
        found = []
        for paragraph in bubble.body.query(MarkdownParagraph):
            content = paragraph._content
            found += [content.plain[span.start:span.end] for span in content.spans if span.style == style]
        return found

    app = OneBubble()
    async with app.run_test(size=(80, 24)) as pilot:
        bubble = app.query_one(MessageBubble)
        for piece in ["*放下", "茶杯，", "笑了笑* 你来", "啦。**真的**"]:
            await bubble.add(piece, "answer")
        await wait_for(pilot, lambda: styled(bubble, ".em") == ["放下茶杯，笑了笑"], what="the streamed italics")
        text = "*放下茶杯，笑了笑* 你来啦。**真的**"
        reply = Reply(text=text, reasoning="", finish_reason="stop", prompt_tokens=10, reused_tokens=0,
                      completion_tokens=12, ttft_s=0.05, tokens_per_s=80.0, total_s=0.2)
        await bubble.finish(reply)
        await pilot.pause()
        assert styled(bubble, ".em") == ["放下茶杯，笑了笑"] and styled(bubble, ".strong") == ["真的"]
        shown = "".join(p._content.plain for p in bubble.body.query(MarkdownParagraph))
        assert "*" not in shown and shown == "放下茶杯，笑了笑 你来啦。真的"


async def test_the_persona_selector_names_her_as_the_models_language_does(tiny_gguf):
    make_run(RUN, gguf=tiny_gguf)  # no report, no held-out text: no language, her own (Chinese) card's name
    english = make_run("smollm2-cpu-20250102-000000", recipe="smollm2-cpu", gguf=tiny_gguf)
    (english.root / "data-report.json").write_text('{"language": "en"}', encoding="utf-8")
    app = _app(max_reply_tokens=8)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _open_chat(pilot, app)
        models, personas = screen.query_one("#model"), screen.query_one("#persona")

        def labels():
            return [str(label) for label, _ in personas._options]

        models.value = next(value for _, value in models._options if english.root.name in str(value))
        await wait_for(pilot, lambda: screen.session is not None and screen._opened[0] == models.value,
                       what="the English run's session")
        assert "Lin Zhi · linzhi" in labels() and personas.value == "linzhi"
        first = screen.session
        models.value = next(value for _, value in models._options if RUN in str(value))
        await wait_for(pilot, lambda: screen.session is not None and screen.session is not first,
                       what="the other model's session")
        assert "林栀 · linzhi" in labels() and personas.value == "linzhi"  # relabelled, the choice kept
        await pilot.pause()
        assert screen.session.persona_name  # one session, with her, not a second one for a reset selector
