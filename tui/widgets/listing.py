"""A titled table of things on the home screen, with a sentence in its place when there are none."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static


SHORT_CHARS = 18


def shorten(text: str, limit: int = SHORT_CHARS) -> str:
    """One line of at most `limit` characters, an ellipsis where it was cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def listed_time(timestamp: float) -> str:
    """A stored unix time as a narrow column shows it: 11-22 17:19."""
    return datetime.fromtimestamp(timestamp).strftime("%m-%d %H:%M")


class Listing(Vertical):
    """Subclasses name their columns, their empty-state sentence, and the message a chosen row sends."""

    TITLE = ""
    COLUMNS: tuple[str, ...] = ()
    EMPTY = ""

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row", zebra_stripes=True)
        yield Static(self.EMPTY, classes="empty")

    def on_mount(self) -> None:
        self.border_title = self.TITLE
        self.query_one(DataTable).add_columns(*self.COLUMNS)

    @property
    def table(self) -> DataTable:
        return self.query_one(DataTable)

    def show_rows(self, rows: list[tuple[str, tuple]]) -> None:
        """Replace the rows: (key, cells) each. The highlighted row stays highlighted if still there."""
        table = self.table
        keep = self.highlighted_key
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        keys = [key for key, _ in rows]
        if keep in keys:
            table.move_cursor(row=keys.index(keep), animate=False)
        self.set_class(not rows, "-empty")

    @property
    def highlighted_key(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def chosen(self, key: str) -> Message:
        raise NotImplementedError  # each listing says what choosing a row means

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.post_message(self.chosen(event.row_key.value))
