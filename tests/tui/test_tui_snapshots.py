"""Text snapshots of the main screens at 80x24 and 120x36, in the dark and the light theme: what each screen must
show is on its rendered rows whole (a label cut at the edge, 'f2 light/d', fails), the footer's last row holds
every key the screen shows there whole at either size (read from the screen's own bindings, so a key added later
is held to it too), and switching the theme changes no character, only colours. Nothing here depends on a clock or a path: a fresh HEARTH_HOME with no runs, chats or
models, so every screen shows its empty state.

pytest-textual-snapshot 1.1.0 pins syrupy 4.8.0, which needs pytest < 9 (the project runs pytest 9), so these are
plain text checks of the screen's own rendering instead of stored SVGs."""

from __future__ import annotations

import pytest
from tui_helpers import screen_rows, wait_for

from tui.app import HearthApp
from tui.screens.chat import ChatScreen
from tui.screens.eval import EvalScreen
from tui.screens.export import ExportScreen
from tui.screens.home import HomeScreen
from tui.screens.tarot import TarotScreen
from tui.screens.train import TrainScreen

THEMES = ("textual-dark", "textual-light")
SIZES = ((80, 24), (120, 36))

# what must be visible at every size, and what only from 120 columns on (the footer's keys: footer_keys below)
HOME = ("runs", "readings", "personas", "chats", "no runs yet — press t to train", "林栀 · linzhi", "i: import a card",
        "c chat", "a tarot", "t train", "e export", "v eval", "r refresh", "q quit", "f2 theme", "^p palette")
TRAIN = ("sft", "tiny-offline", "recipe's base", "or a path / hub id", "data (empty: recipe's)", "Add…",
         "Check data", "Start", "Cancel", "steps", "epochs", "lr", "lora r", "alpha", "dropout", "max len",
         "eval frac", "log", "esc back", "^o add data", "^x cancel", "f2 theme", "^p palette")
CHAT = ("no exported model", "林栀 · linzhi", "say something (enter sends)", "esc back", "^r retry")
CHAT_WIDE = ("model", "persona")
TAROT = ("no exported model", "三张牌 · 3", "匿名", "history", "esc stop/back", "^n new question", "f2 theme")
TAROT_WIDE = ("ask the cards a question (enter draws and reads)",)
EXPORT = ("quantizations", "q8_0", "LoRA GGUF too", "Start", "Cancel", "no runs yet — train one first",
          "esc back", "s export", "x cancel", "l log", "y copy ollama", "c chat", "f2 theme", "^p palette")
EVAL = ("no eval of tiny-offline-20250101-000000 yet — press r to run one", "esc back", "r run eval", "f2 theme")


def open_export(app) -> None:
    app.push_screen(ExportScreen())


def open_eval(app) -> None:
    from tui_helpers import make_run

    app.open_eval(make_run("tiny-offline-20250101-000000"))


# screen -> (the home key or the call that opens it, its class, always shown, shown from 120 columns)
SCREENS = {
    "home": (None, HomeScreen, HOME, ()),
    "train": ("t", TrainScreen, TRAIN, ()),
    "chat": ("c", ChatScreen, CHAT, CHAT_WIDE),
    "tarot": ("a", TarotScreen, TAROT, TAROT_WIDE),
    "export": (open_export, ExportScreen, EXPORT, ()),
    "eval": (open_eval, EvalScreen, EVAL, ()),
}


def missing(rows: list[str], labels) -> list[str]:
    return [label for label in labels if not any(label in row for row in rows)]


def footer_keys(app, screen) -> list[str]:
    """What the footer shows, picked as Textual's Footer picks it: `key label` for each action's first key, a
    group's label once for a group of keys (chat's alt+←→), and the command palette's key when it is shown."""
    from textual.widgets import Footer

    shown, actions = [], set()
    bindings = screen.active_bindings
    for _, binding, _, _ in bindings.values():
        if not binding.show or binding.action in actions:
            continue
        actions.add(binding.action)
        group = binding.group.description if binding.group is not None else None
        label = group or f"{app.get_key_display(binding)} {binding.description}"
        if label not in shown:
            shown.append(label)
    if screen.query_one(Footer).show_command_palette and app.COMMAND_PALETTE_BINDING in bindings:
        palette = bindings[app.COMMAND_PALETTE_BINDING].binding
        shown.append(f"{app.get_key_display(palette)} {palette.description}")
    return shown


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("name", SCREENS)
async def test_each_screen_shows_its_labels_whole_in_both_themes(name, size):
    key, screen_class, always, wide = SCREENS[name]
    app = HearthApp()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        if isinstance(key, str):
            await pilot.press(key)
        elif key is not None:
            key(app)
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
            keys = footer_keys(app, app.screen)
            assert not missing(rows[-1:], keys), (theme, missing(rows[-1:], keys), rows[-1])
            seen[theme] = rows
        assert seen[THEMES[0]] == seen[THEMES[1]]  # a theme is colours only: the same characters in both
