"""A spread laid out on the table: each card in its position's place (the spread's `at` grid), showing the
position, the card's name and its orientation (green upright, red reversed).

Three lines a card (position, name, orientation) when the spread fits in half the screen that way, else
two (the orientation shortened beside the name), so a ten-card Celtic Cross still leaves the reading room
at 80×24. A name too long for its cell is shortened, never its orientation. Columns and rows no position
uses are left out, so a user spread's sparse coordinates still fit the screen.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.widget import Widget

from tui.tarot_view import ORIENTATION_STYLE, spread_title

# The orientation as a cell shows it: on its own line, or (short) beside the name when space is tight.
ORIENTATION_WORDS = {"zh": {False: "正位", True: "逆位"}, "en": {False: "upright", True: "reversed"}}
ORIENTATION_SHORT = {"zh": {False: "正", True: "逆"}, "en": {False: "up", True: "rev"}}
MIN_CELL = 8
BORDER = 2


def _cut(text: str, width: int) -> str:
    """`text` in at most `width` cells, cut with an ellipsis when longer (CJK characters are two cells)."""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(width - 1, 0)).rstrip() + "…"  # rstrip: half of a wide character


class SpreadView(Widget):
    DEFAULT_CSS = """
    SpreadView { height: auto; }
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.layout_shown = None  # the spreads.draw.Layout on the table
        self.language = "zh"

    def show_layout(self, layout, language: str = "zh") -> None:
        self.layout_shown, self.language = layout, language
        spread = layout.spread
        self.border_title = spread_title(spread, language)
        self._fit_height()

    def on_resize(self) -> None:
        self._fit_height()

    def lines_per_card(self) -> int:
        rows = len(self._rows())
        return 3 if rows * 3 + BORDER <= self.app.size.height // 2 else 2

    def _fit_height(self) -> None:
        if self.layout_shown is not None:
            height = len(self._rows()) * self.lines_per_card() + BORDER
            if self.styles.height is None or self.styles.height.value != height:
                self.styles.height = height
            self.refresh(layout=True)

    def _rows(self) -> list[int]:
        return sorted({placed.position.at[1] for placed in self.layout_shown.cards}) if self.layout_shown else []

    def _columns(self) -> list[int]:
        return sorted({placed.position.at[0] for placed in self.layout_shown.cards}) if self.layout_shown else []

    def cells(self) -> dict[tuple[int, int], tuple[str, str, bool]]:
        """(column, row) on screen -> (position, card name, reversed): what each cell shows, unshortened."""
        columns, rows = self._columns(), self._rows()
        shown = {}
        for number, placed in enumerate(self.layout_shown.cards if self.layout_shown else (), start=1):
            x, y = placed.position.at
            shown[(columns.index(x), rows.index(y))] = (
                f"{number} {placed.position.name(self.language)}", placed.drawn.card.name(self.language),
                placed.drawn.reversed)
        return shown

    def _cell_line(self, cell: tuple[str, str, bool], line: int, lines: int, width: int) -> Text:
        position, name, reversed_ = cell
        if line == 0:
            return Text(_cut(position, width), style="dim")
        if lines == 3:
            return Text(_cut(name, width), style="bold") if line == 1 else Text(
                ORIENTATION_WORDS[self.language][reversed_], style=ORIENTATION_STYLE[reversed_])
        word = ORIENTATION_SHORT[self.language][reversed_]  # beside the name: the name gives way, never the word
        shown = Text(_cut(name, width - 1 - cell_len(word)), style="bold")
        shown.append(" " + word, style=ORIENTATION_STYLE[reversed_])
        return shown

    def render(self) -> Text:
        columns, rows = self._columns(), self._rows()
        if not columns:
            return Text("")
        width = max(self.content_size.width // len(columns), MIN_CELL)
        lines = self.lines_per_card()
        cells = self.cells()
        text = Text(no_wrap=True, overflow="crop")
        for y in range(len(rows)):
            for line in range(lines):
                for x in range(len(columns)):
                    cell = cells.get((x, y))
                    shown = self._cell_line(cell, line, lines, width - 1) if cell else Text("")
                    text.append_text(shown)
                    text.append(" " * (width - shown.cell_len))  # at least one space between cells
                text.append("\n")
        text.rstrip()
        return text
