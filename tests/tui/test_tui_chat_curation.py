"""The chat screen curates as `hearth chat` does, by keys and by slash commands in the prompt: retry keeps
alternatives and alt+←/→ choose one, the last reply is edited in a dialog (its first text kept), the reply
and the whole chat are rated, the chat is kept and no longer kept. Each is checked in the history database."""

from __future__ import annotations

from tui_helpers import make_run, wait_for

from companion.history import HistoryStore
from companion.settings import EngineSettings
from hearth.paths import history_db
from tui.app import HearthApp
from tui.screens.chat import ChatScreen
from tui.widgets.curation_dialogs import EditReplyDialog, RatingDialog

RUN = "tiny-offline-20250101-000000"


async def _chat(pilot, app, tiny_gguf) -> ChatScreen:
    """The chat screen with one exchange: the greeting, "你好" and a reply."""
    await pilot.press("c")
    screen = app.screen
    assert isinstance(screen, ChatScreen)
    await wait_for(pilot, lambda: screen.session is not None, what="the model to load")
    await _say(pilot, screen, "你好")
    await _reply_written(pilot, screen)
    return screen


async def _say(pilot, screen: ChatScreen, text: str) -> None:
    screen.query_one("#prompt").value = text
    await pilot.press("enter")
    await pilot.pause()


async def _reply_written(pilot, screen: ChatScreen) -> None:
    await wait_for(pilot, lambda: screen.cancel is None and len(screen.conversation.bubbles) == 3, what="the reply")


def _app(tiny_gguf) -> HearthApp:
    make_run(RUN, gguf=tiny_gguf)
    return HearthApp(engine_settings=EngineSettings(n_ctx=2048, n_threads=2, seed=1, max_reply_tokens=6))


def _stored_reply(screen: ChatScreen):
    with HistoryStore(history_db()) as store:
        reply = store.messages(screen.session.chat_id)[-1]
        return reply, store.alternatives(reply.id)


def _marks(screen: ChatScreen) -> str:
    return str(screen.conversation.bubbles[-1].query_one(".marks").render())


async def test_retry_keeps_alternatives_and_the_keys_choose_one(tiny_gguf):
    app = _app(tiny_gguf)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _chat(pilot, app, tiny_gguf)
        assert _marks(screen) == ""  # one reply: nothing to swipe
        await pilot.press("alt+left")
        await pilot.pause()
        assert _stored_reply(screen)[0].chosen is None  # refused (said in a notice), nothing stored
        await pilot.press("ctrl+r")
        await _reply_written(pilot, screen)
        await _say(pilot, screen, "/retry")
        await _reply_written(pilot, screen)
        reply, alternatives = _stored_reply(screen)
        assert [a.number for a in alternatives] == [0, 1, 2] and reply.chosen == 2
        assert _marks(screen) == "‹3/3›"
        steps = [("alt+left", 1), ("alt+left", 0), ("alt+left", 2), ("alt+right", 0), ("/next", 1), ("/prev", 0)]
        for step, chosen in steps:  # round the ends both ways
            if step.startswith("/"):
                await _say(pilot, screen, step)
            else:
                await pilot.press(step)
                await pilot.pause()
            reply, alternatives = _stored_reply(screen)
            assert reply.chosen == chosen, step
            assert reply.content == alternatives[chosen].content == screen.conversation.bubbles[-1].content
            assert _marks(screen) == f"‹{chosen + 1}/3›"
        chat_id = screen.session.chat_id
        assert [m.role for m in HistoryStore(history_db()).messages(chat_id)] == ["assistant", "user", "assistant"]
        await pilot.press("escape")
        app.open_chat(resume=chat_id)  # the choice is persisted: a resumed chat shows the same one
        await pilot.pause()
        resumed = app.screen
        await wait_for(pilot, lambda: resumed.session is not None, what="the chat to resume")
        assert _marks(resumed) == "‹1/3›" and resumed.conversation.bubbles[-1].content == alternatives[0].content


async def test_the_last_reply_is_edited_in_a_dialog_and_keeps_its_first_text(tiny_gguf):
    app = _app(tiny_gguf)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _chat(pilot, app, tiny_gguf)
        first = screen.conversation.bubbles[-1].content
        await pilot.press("ctrl+o")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, EditReplyDialog)
        area = dialog.query_one("#edit-text")
        assert area.text == first and area.has_focus  # the reply's text, ready to change
        await pilot.press("escape")  # cancelled: nothing changes
        await pilot.pause()
        assert app.screen is screen and _stored_reply(screen)[0].original is None
        await pilot.press("ctrl+o")
        await pilot.pause()
        app.screen.query_one("#edit-text").text = "*笑* 欢迎光临"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen
        reply, _ = _stored_reply(screen)
        assert (reply.content, reply.original) == ("*笑* 欢迎光临", first)
        bubble = screen.conversation.bubbles[-1]
        assert bubble.content == "*笑* 欢迎光临" and _marks(screen) == "edited"
        await _say(pilot, screen, "/edit 再改一次")  # typed: saved at once; the first text stays the original
        reply, _ = _stored_reply(screen)
        assert (reply.content, reply.original) == ("再改一次", first)
        await pilot.press("ctrl+o")
        await pilot.pause()
        app.screen.query_one("#edit-text").text = "   "
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert _stored_reply(screen)[0].content == "再改一次"  # an empty edit is refused


async def test_the_reply_and_the_chat_are_rated(tiny_gguf):
    app = _app(tiny_gguf)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _chat(pilot, app, tiny_gguf)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert isinstance(app.screen, RatingDialog)
        await pilot.press("4")
        await pilot.pause()
        assert app.screen is screen
        assert _stored_reply(screen)[0].rating == 4 and _marks(screen) == "rated 4/5"
        await pilot.press("ctrl+t", "c", "5")  # c: the whole chat instead
        await pilot.pause()
        with HistoryStore(history_db()) as store:
            assert store.chat(screen.session.chat_id).rating == 5
        assert "rated 5/5" in str(screen.query_one("#chat-status").render())
        await pilot.press("ctrl+t", "escape")  # cancelled
        await _say(pilot, screen, "/rate 2")
        await _say(pilot, screen, "/rate chat 3")
        await _say(pilot, screen, "/rate 9")  # refused
        await _say(pilot, screen, "/rate chat")  # refused
        with HistoryStore(history_db()) as store:
            chat_id = screen.session.chat_id
            assert store.messages(chat_id)[-1].rating == 2 and store.chat(chat_id).rating == 3
            assert [m.rating for m in store.messages(chat_id)] == [None, None, 2]  # only the last reply
        assert _marks(screen) == "rated 2/5"


async def test_the_chat_is_kept_and_no_longer_kept(tiny_gguf):
    app = _app(tiny_gguf)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _chat(pilot, app, tiny_gguf)
        chat_id = screen.session.chat_id

        def record():
            with HistoryStore(history_db()) as store:
                return store.chat(chat_id)

        assert not record().kept
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert record().kept and " kept" in str(screen.query_one("#chat-status").render())
        await pilot.press("ctrl+s")  # the key turns it back
        await pilot.pause()
        assert not record().kept and " kept" not in str(screen.query_one("#chat-status").render())
        await _say(pilot, screen, "/keep 雨天")
        assert (record().kept, record().title) == (True, "雨天")
        await _say(pilot, screen, "/unkeep")
        assert (record().kept, record().title) == (False, "雨天")
        await _say(pilot, screen, "/nonsense")  # unknown: not sent as a message either
        assert len(screen.conversation.bubbles) == 3


async def test_the_footer_shows_every_curation_key_at_80_columns(tiny_gguf):
    app = _app(tiny_gguf)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("c")
        screen = app.screen
        await wait_for(pilot, lambda: screen.session is not None, what="the model to load")
        await pilot.pause()
        footer = screen.query_one("Footer")
        palette = footer.query(".-command-palette")  # docked right, over whatever reaches it
        free = palette.first().region.x if palette else 80
        shown = {key.action: key for key in footer.query("FooterKey")}
        for action in ("stop_or_back", "retry", "prev", "next", "pick_earlier", "pick_later", "edit", "rate",
                       "toggle_keep"):
            key = shown[action]
            assert key.region.width and key.region.right <= free, (action, key.region)  # whole, not cut off
        hidden = {"undo", "new_chat"}  # bound (and /undo, /new), not shown
        assert not hidden & set(shown) and hidden <= {b.action for b in screen.BINDINGS}


def _stored(screen: ChatScreen):
    with HistoryStore(history_db()) as store:
        return store.messages(screen.session.chat_id)


def _bubbles(screen: ChatScreen):
    return screen.conversation.bubbles


def _status(screen: ChatScreen) -> str:
    return str(screen.query_one("#chat-status").render())


async def test_an_earlier_reply_is_picked_then_edited_and_rated(tiny_gguf):
    app = _app(tiny_gguf)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _chat(pilot, app, tiny_gguf)
        await _say(pilot, screen, "再来")
        await wait_for(pilot, lambda: screen.cancel is None and len(screen.conversation.bubbles) == 5,
                       what="the second reply")
        # the bubbles: the greeting (reply #1), 你好, #2, 再来, #3 (an edit redraws those from the edited one on)
        first = [m.content for m in _stored(screen)]
        await pilot.press("alt+up")  # from the last reply up to #2
        await pilot.pause()
        assert screen.conversation.picked == 2 and _bubbles(screen)[2].has_class("-picked")
        assert str(_bubbles(screen)[2].query_one(".marks").render()) == "▸ #2" and "▸ #2" in _status(screen)
        assert [b.has_class("-picked") for b in _bubbles(screen)] == [False, False, True, False, False]
        await pilot.press("alt+down")  # down to the last reply: no pick, the last is what acts
        await pilot.pause()
        assert screen.conversation.picked is None and not any(b.has_class("-picked") for b in _bubbles(screen))
        await pilot.press("alt+up", "alt+up", "alt+up", "alt+up", "alt+down")  # to the greeting, no further, to #2
        await pilot.pause()
        assert screen.conversation.picked == 2

        await pilot.press("ctrl+o")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, EditReplyDialog)
        assert "edit reply #2" in str(dialog.query_one("#edit-title").render())
        assert dialog.query_one("#edit-text").text == first[2]  # the picked reply's text, not the last one's
        dialog.query_one("#edit-text").text = "*笑* 改过的第二个"
        await pilot.press("ctrl+s")
        await pilot.pause()
        stored = _stored(screen)
        assert (stored[2].content, stored[2].original) == ("*笑* 改过的第二个", first[2])
        assert (stored[4].content, stored[4].original) == (first[4], None)  # the last reply untouched
        assert _bubbles(screen)[2].content == "*笑* 改过的第二个"
        assert str(_bubbles(screen)[2].query_one(".marks").render()) == "▸ #2 · edited"

        await pilot.press("ctrl+t")
        await pilot.pause()
        assert isinstance(app.screen, RatingDialog)
        assert str(app.screen.query_one("#rating-title").render()) == "rate reply #2"
        await pilot.press("3")
        await pilot.pause()
        assert [m.rating for m in _stored(screen)] == [None, None, 3, None, None]
        assert str(_bubbles(screen)[2].query_one(".marks").render()) == "▸ #2 · rated 3/5 · edited"

        await _say(pilot, screen, "/rate 1 5")  # a number typed names the reply, picked or not
        await _say(pilot, screen, "/edit #1 欢迎光临")
        await _say(pilot, screen, "/edit 9 x")  # no reply #9: refused
        await _say(pilot, screen, "/edit 1")  # no text: the dialog, for that reply
        assert isinstance(app.screen, EditReplyDialog) and app.screen.query_one("#edit-text").text == "欢迎光临"
        assert "edit reply #1" in str(app.screen.query_one("#edit-title").render())
        await pilot.press("escape")
        await pilot.pause()
        stored = _stored(screen)
        assert (stored[0].content, stored[0].original, stored[0].rating) == ("欢迎光临", first[0], 5)
        assert [m.content for m in stored[1:]] == ["你好", "*笑* 改过的第二个", "再来", first[4]]

        await _say(pilot, screen, "/keep")
        await _say(pilot, screen, "/rate chat 5")
        rows = ["".join(segment.text for segment in strip) for strip in screen._compositor.render_strips()]  # noqa: SLF001
        status = next(row for row in rows if "context " in row)
        # at 80 columns the numbers and the marks are whole; what the ellipsis cuts is the persona and model
        assert len(status.rstrip()) <= 80 and " tok/s · chat #" in status, status
        assert " kept · rated 5/5 · ▸ #2 · " in status and status.rstrip().endswith("…"), status

        await pilot.press("escape")  # esc first drops the pick: the last reply is what acts again
        await pilot.pause()
        assert app.screen is screen and screen.conversation.picked is None and "▸" not in _status(screen)
        assert not _bubbles(screen)[2].has_class("-picked")
        await pilot.press("ctrl+t", "4")
        await pilot.pause()
        assert [m.rating for m in _stored(screen)] == [5, None, 3, None, 4]

        await pilot.press("alt+up")  # a pick beyond the replies left after an undo is dropped
        await pilot.pause()
        await _say(pilot, screen, "/undo")
        assert screen.conversation.picked is None and len(screen.session.replies()) == 2
