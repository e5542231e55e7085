"""The file picker shows folders and the wanted files only, Enter chooses and Esc cancels; the train screen adds
the chosen data file to its data line, and the home screen's personas import a chosen card through the personas
library, as `hearth persona import` does."""

from __future__ import annotations

import json
import shlex

from textual.app import App
from tui_helpers import wait_for

from tui.app import HearthApp
from tui.screens.train import TrainScreen, form_request
from tui.widgets.file_picker import FilePicker, SuffixTree, start_folder
from tui.widgets.persona_list import PersonaList


class PickerApp(App):
    def __init__(self, start):
        super().__init__()
        self.start = start
        self.chosen = "not yet"

    def on_mount(self) -> None:
        self.push_screen(FilePicker("pick", (".jsonl", ".json"), start=self.start), self._chosen)

    def _chosen(self, path) -> None:
        self.chosen = path


def _files(tmp_path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("a.jsonl", "B.JSON", "notes.txt", ".secret.jsonl", "sub/c.json"):
        (tmp_path / name).write_text("{}", encoding="utf-8")


def _names(node) -> set[str]:
    return {child.data.path.name for child in node.children}


async def _loaded(pilot, node):
    await wait_for(pilot, lambda: node.children, timeout=10, what=f"the folder {node.data.path} to load")


def _node(tree, name):
    return next(node for node in tree.root.children if node.data.path.name == name)


async def test_it_shows_folders_and_wanted_files_and_enter_chooses(tmp_path):
    _files(tmp_path)
    app = PickerApp(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        tree = app.screen.query_one(SuffixTree)
        assert app.focused is tree
        await _loaded(pilot, tree.root)
        assert _names(tree.root) == {"sub", "a.jsonl", "B.JSON"}  # no .txt, nothing hidden; suffix case aside
        tree.move_cursor(_node(tree, "sub"))
        await pilot.press("enter")  # a folder opens
        await _loaded(pilot, _node(tree, "sub"))
        assert _names(_node(tree, "sub")) == {"c.json"}
        tree.move_cursor(_node(tree, "a.jsonl"))
        await pilot.press("enter")
        await pilot.pause()
        assert app.chosen == tmp_path / "a.jsonl" and not isinstance(app.screen, FilePicker)


async def test_backspace_goes_up_a_folder_and_esc_cancels(tmp_path):
    _files(tmp_path)
    app = PickerApp(tmp_path / "sub")
    async with app.run_test(size=(80, 24)) as pilot:
        tree = app.screen.query_one(SuffixTree)
        await _loaded(pilot, tree.root)
        assert _names(tree.root) == {"c.json"}
        await pilot.press("backspace")
        await pilot.pause()
        assert tree.path == tmp_path
        await _loaded(pilot, tree.root)
        assert "a.jsonl" in _names(tree.root)
        await pilot.press("escape")
        await pilot.pause()
        assert app.chosen is None and not isinstance(app.screen, FilePicker)


def test_it_starts_in_the_working_directory_else_home(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert start_folder() == tmp_path and start_folder(tmp_path / "sub-missing") == tmp_path
    (tmp_path / "gone").mkdir()
    monkeypatch.chdir(tmp_path / "gone")
    (tmp_path / "gone").rmdir()  # a removed working directory
    from pathlib import Path

    assert start_folder() == Path.home()


async def _pick(pilot, app, name: str) -> None:
    picker = await wait_for(pilot, lambda: isinstance(app.screen, FilePicker) and app.screen, what="the picker")
    tree = picker.query_one(SuffixTree)
    await _loaded(pilot, tree.root)
    tree.move_cursor(_node(tree, name))
    await pilot.press("enter")
    await wait_for(pilot, lambda: not isinstance(app.screen, FilePicker), what="the picker to close")


async def test_the_train_screen_adds_a_picked_data_file(tmp_path, monkeypatch):
    (tmp_path / "my chats.jsonl").write_text("{}\n", encoding="utf-8")
    (tmp_path / "more.json").write_text("[]", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    app = HearthApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("t")
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        await pilot.press("ctrl+o")
        await _pick(pilot, app, "my chats.jsonl")
        data = screen.query_one("#data")
        assert data.value == shlex.quote(str(tmp_path / "my chats.jsonl")) and app.focused is data
        await pilot.click("#add-data")  # the button opens it too; a second file joins the line
        await _pick(pilot, app, "more.json")
        assert form_request("tiny-offline", data.value).data == [str(tmp_path / "my chats.jsonl"),
                                                                   str(tmp_path / "more.json")]
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, FilePicker), what="the picker")
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen and len(shlex.split(data.value)) == 2  # cancelled: nothing added


CARD = {"spec": "chara_card_v2", "spec_version": "2.0",
        "data": {"name": "Mira", "description": "a lighthouse keeper", "first_mes": "The lamp is lit."}}


async def test_the_persona_list_imports_a_picked_card(tmp_path, monkeypatch, hearth_home):
    (tmp_path / "mira.json").write_text(json.dumps(CARD), encoding="utf-8")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    monkeypatch.chdir(tmp_path)
    app = HearthApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        personas = app.screen.query_one(PersonaList)
        assert [str(column.label) for column in personas.table.columns.values()] == ["persona", "source"]
        personas.table.focus()
        await pilot.pause()
        shown = {(key.key, key.description) for key in app.screen.query("FooterKey")}
        assert ("i", "import card") in shown
        await pilot.press("i")
        await _pick(pilot, app, "mira.json")
        rows = {personas.table.get_row_at(i)[0] for i in range(personas.table.row_count)}
        assert "Mira · mira" in rows and personas.highlighted_key == "mira"
        assert (hearth_home / "personas" / "mira.json").is_file()
        assert any(n.message == "imported Mira · mira" for n in app._notifications)

        await pilot.press("i")
        await _pick(pilot, app, "broken.png")  # a bad card is a message; the list stays as it was
        errors = [n for n in app._notifications if n.title == "card not imported"]
        assert errors and "broken.png" in errors[-1].message
        assert personas.table.row_count == len(rows)
        await pilot.press("i")
        await _pick(pilot, app, "mira.json")  # the same name again: kept, and said so
        assert "already imported" in [n for n in app._notifications if n.title == "card not imported"][-1].message
