"""The theme F2 chooses is the theme of the next launch (HEARTH_HOME/tui.json, written atomically); a broken or
strange settings file starts the app in the default theme instead of stopping it."""

from __future__ import annotations

import json

import pytest

from tui.app import DEFAULT_THEME, HearthApp
from tui.screens.home import HomeScreen
from tui.ui_settings import SETTINGS_FILE


async def _launch_theme(size=(80, 24)) -> str:
    app = HearthApp()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, HomeScreen)
        return app.theme


async def test_f2_is_remembered_across_launches(hearth_home):
    settings = hearth_home / SETTINGS_FILE
    app = HearthApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME and not settings.exists()  # a launch alone writes nothing
        await pilot.press("f2")
        await pilot.pause()
        assert app.theme == "textual-light"
    assert json.loads(settings.read_text(encoding="utf-8")) == {"theme": "textual-light"}
    assert not [p.name for p in hearth_home.iterdir() if p.name.startswith(f".{SETTINGS_FILE}.")]  # no temp left
    assert await _launch_theme() == "textual-light"

    app = HearthApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f2")  # back to dark, kept too
        await pilot.pause()
    assert json.loads(settings.read_text(encoding="utf-8"))["theme"] == "textual-dark"
    assert await _launch_theme() == "textual-dark"


@pytest.mark.parametrize("text", [
    "{not json", "[]", '{"theme": 3}', '{"theme": "no-such-theme"}', "", "\udcff",
])
async def test_a_broken_settings_file_falls_back_to_the_default(hearth_home, text):
    hearth_home.mkdir(parents=True, exist_ok=True)
    (hearth_home / SETTINGS_FILE).write_text(text, encoding="utf-8", errors="surrogateescape")
    assert await _launch_theme() == DEFAULT_THEME


async def test_a_settings_file_that_cannot_be_written_only_warns(hearth_home):
    hearth_home.mkdir(parents=True, exist_ok=True)
    (hearth_home / SETTINGS_FILE).mkdir()  # in the way of the file
    app = HearthApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f2")
        await pilot.pause()
        assert app.theme == "textual-light" and isinstance(app.screen, HomeScreen)
        assert any("will not be remembered" in n.message for n in app._notifications)
