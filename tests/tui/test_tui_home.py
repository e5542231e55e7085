"""The home screen lists what is on disk, says what to do when nothing is, and its keys open screens."""

from __future__ import annotations

import json

from tui_helpers import make_run, wait_for

from tui.app import HearthApp
from tui.screens.chat import ChatScreen
from tui.screens.export import ExportScreen
from tui.screens.home import HomeScreen
from tui.screens.train import TrainScreen
from tui.widgets.chat_list import ChatList
from tui.widgets.persona_list import PersonaList
from tui.widgets.run_list import RunList


def _rows(listing) -> list[list[str]]:
    table = listing.table
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def _import_persona(tmp_path) -> None:
    from personas.library import import_card

    card = {"spec": "chara_card_v2", "spec_version": "2.0",
            "data": {"name": "Mira", "description": "a lighthouse keeper", "first_mes": "The lamp is lit."}}
    path = tmp_path / "mira.json"
    path.write_text(json.dumps(card), encoding="utf-8")
    import_card(path)


async def test_home_lists_runs_personas_and_chats(tmp_path):
    make_run("tiny-offline-20250101-000000", steps=6, adapter=True)
    _import_persona(tmp_path)
    app = HearthApp()
    chat_id = app.store.create_chat(persona="林栀", model="/models/tiny-q8_0.gguf")
    app.store.add_message(chat_id, "user", "你好")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        runs = _rows(app.screen.query_one(RunList))
        assert runs == [["tiny-offline-20250101-000000", "tiny-offline", "6", "✓", "·", "·", "·"]]
        personas = _rows(app.screen.query_one(PersonaList))
        assert ["Mira · mira", "imported"] in personas
        assert ["林栀 · linzhi", "builtin"] in personas
        chats = _rows(app.screen.query_one(ChatList))
        assert chats[0][:4] == [str(chat_id), "林栀", "你好", "1"] and chats[0][-1] == "tiny-q8_0"
        shown = {(key.key, key.description) for key in app.screen.query("FooterKey")}
        assert {("c", "chat"), ("t", "train"), ("q", "quit")} <= shown


async def test_empty_home_says_what_to_do():
    app = HearthApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        runs = app.screen.query_one(RunList)
        assert runs.has_class("-empty")
        assert "no runs yet — press t to train the built-in 林栀 on the tiny base" in str(
            runs.query_one(".empty").render())
        assert not runs.query_one(".empty").styles.display == "none"
        assert app.screen.query_one(ChatList).has_class("-empty")
        assert not app.screen.query_one(PersonaList).has_class("-empty")  # the built-in 林栀 is always there


async def test_keys_open_the_train_export_and_chat_screens_and_come_back():
    make_run("tiny-offline-20250101-000000", steps=2, adapter=True)
    app = HearthApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        assert isinstance(app.screen, TrainScreen) and app.screen.run is None
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("e")  # the highlighted run: export (merged first, it has only an adapter)
        assert isinstance(app.screen, ExportScreen)
        assert app.screen.run.root.name == "tiny-offline-20250101-000000"
        assert not app.screen.query_one("#start").disabled
        assert "Start merges it first" in str(app.screen.query_one("#export-run-state").render())
        await pilot.press("escape")
        await pilot.press("c")  # no exported model anywhere: the chat screen says so
        assert isinstance(app.screen, ChatScreen)
        await wait_for(pilot, lambda: "no exported model yet" in str(app.screen.query_one("#chat-status").render()),
                       what="the no-model notice")
        assert app.screen.query_one("#prompt").disabled
