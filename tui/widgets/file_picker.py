"""Choose a file from disk, keyboard-first: a folder tree that shows only folders and the files of the wanted
suffixes, from the working directory (else home). Enter opens a folder or chooses a file, Backspace goes up a
folder, ~ goes home, Esc cancels. It only asks: the screen that opened it does what the file is for."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Label


class SuffixTree(DirectoryTree):
    """A DirectoryTree without hidden entries and without files of other suffixes (case aside: CARD.PNG)."""

    def __init__(self, path: Path, suffixes: Iterable[str], **kwargs) -> None:
        self.suffixes = tuple(suffix.lower() for suffix in suffixes)  # before super(): it loads the root
        super().__init__(path, **kwargs)

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        return [path for path in paths if not path.name.startswith(".")
                and (self._safe_is_dir(path) or path.suffix.lower() in self.suffixes)]


def start_folder(start: Path | None = None) -> Path:
    """Where the picker opens: `start`, else the working directory, else home (a cwd may have been removed)."""
    for candidate in (start, _cwd()):
        if candidate is not None and candidate.is_dir():
            return candidate
    return Path.home()


def _cwd() -> Path | None:
    try:
        return Path.cwd()
    except OSError:
        return None


class FilePicker(ModalScreen[Path | None]):
    """Dismissed with the chosen file, or None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "cancel"),
        Binding("backspace", "up", "up a folder"),
        Binding("tilde", "home", "home"),
    ]

    def __init__(self, title: str, suffixes: Iterable[str], start: Path | None = None) -> None:
        super().__init__(classes="file-picker")
        self.title_text = title
        self.suffixes = tuple(suffixes)
        self.start = start_folder(start)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"{self.title_text} ({', '.join(self.suffixes)})", classes="dialog-title")
            yield SuffixTree(self.start, self.suffixes, id="picker-tree")
            yield Label("enter: open / choose · backspace: up a folder · ~: home · esc: cancel",
                        classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one(SuffixTree).focus()

    @property
    def tree(self) -> SuffixTree:
        return self.query_one(SuffixTree)

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(Path(event.path))

    def action_up(self) -> None:
        folder = Path(self.tree.path).resolve()
        if folder.parent != folder:
            self.tree.path = folder.parent

    def action_home(self) -> None:
        self.tree.path = Path.home()

    def action_cancel(self) -> None:
        self.dismiss(None)
