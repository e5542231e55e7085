"""Text snapshots of the main screens at 80x24 and 120x36, in the dark and the light theme: what each screen must
show is on its rendered rows whole (a label cut at the edge, 'f2 light/d', fails), and switching the theme changes
no character, only colours. Nothing here depends on a clock or a path: a fresh HEARTH_HOME with no runs, chats or
models, so every screen shows its empty state.

pytest-textual-snapshot 1.1.0 pins syrupy 4.8.0, which needs pytest < 9 (the project runs pytest 9), so these are
plain text checks of the screen's own rendering instead of stored SVGs."""

from __future__ import annotations

import pytest
from tui_helpers import wait_for

from tui.app import HearthApp
from tui.screens.chat import ChatScreen
from tui.screens.home import HomeScreen
from tui.screens.tarot import TarotScreen
from tui.screens.train import TrainScreen

THEMES = ("textual-dark", "textual-light")
SIZES = ((80, 24), (120, 36))

# what must be visible at every size, and what only from 120 columns on (at 80 the footer has no room for all)
HOME = ("runs", "readings", "personas", "chats", "no runs yet — press t to train", "林栀 · linzhi", "i: import a card",
        "c chat", "a ask the cards", "t train", "v eval run")
HOME_WIDE = ("r refresh", "q quit", "f2 light/dark", "^p palette")
TRAIN = ("tiny-offline", "recipe's base", "or a path / hub id", "data files (empty: the recipe's)", "Add…",
         "Check data", "Start", "Cancel", "steps", "epochs", "lr", "lora r", "alpha", "dropout", "max len",
         "eval frac", "log", "esc back", "^o add data file", "f2 light/dark")
TRAIN_WIDE = ("^p palette",)
CHAT = ("no exported model", "林栀 · linzhi", "say something (enter sends)", "esc back", "^r retry")
CHAT_WIDE = ("model", "persona", "f2 light/dark")
TAROT = ("no exported model", "三张牌 · 3", "匿名", "history", "esc stop / back", "^n new question")
TAROT_WIDE = ("ask the cards a question (enter draws and reads)", "f2 light/dark")

# screen -> (the home key that opens it, its class, always shown, shown from 120 columns)
SCREENS = {
    "home": (None, HomeScreen, HOME, HOME_WIDE),
    "train": ("t", TrainScreen, TRAIN, TRAIN_WIDE),
    "chat": ("c", ChatScreen, CHAT, CHAT_WIDE),
    "tarot": ("a", TarotScreen, TAROT, TAROT_WIDE),
}


def screen_rows(screen) -> list[str]:
    """The screen as the terminal shows it, one string per row."""
    return ["".join(segment.text for segment in strip) for strip in screen._compositor.render_strips()]  # noqa: SLF001


def missing(rows: list[str], labels) -> list[str]:
    return [label for label in labels if not any(label in row for row in rows)]


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("name", SCREENS)
async def test_each_screen_shows_its_labels_whole_in_both_themes(name, size):
    key, screen_class, always, wide = SCREENS[name]
    app = HearthApp()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        if key is not None:
            await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(app.screen, screen_class), what=f"the {name} screen")
        await pilot.pause(0.3)  # selectors fill in after mount
        seen = {}
        for theme in THEMES:
            app.theme = theme
            await pilot.pause()
            rows = screen_rows(app.screen)
            assert len(rows) == size[1] and all(len(row) <= size[0] for row in rows)
            expected = always + (wide if size[0] >= 120 else ())
            assert not missing(rows, expected), (theme, missing(rows, expected), "\n".join(rows))
            seen[theme] = rows
        assert seen[THEMES[0]] == seen[THEMES[1]]  # a theme is colours only: the same characters in both
