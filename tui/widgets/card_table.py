"""The cards of a spread as drawn: position, card (green upright, red reversed) and its meaning."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from hearth.errors import UserError
from tui.commands.tarot import ORIENTATION_STYLE, layout_rows


class CardTable(DataTable):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns("#", "position", "card", "meaning")

    def show_layout(self, layout) -> None:
        """Show a spreads.draw.Layout, replacing what was there."""
        self._show(layout_rows(layout), f"{layout.spread.zh} · {layout.spread.en}")

    def show_stored(self, reading) -> None:
        """Show a stored reading's cards (companion.readings.Reading), with their meanings when its
        spread and cards are still in the bundled deck and spreads."""
        from spreads.draw import cards_given
        from spreads.spread import find_spread

        try:
            self.show_layout(cards_given(find_spread(reading.spread), reading.card_texts()))
        except UserError:  # a spread or card named differently: show the cards as they were stored
            rows = [
                (str(n), Text(card["position"]), Text(text, style=ORIENTATION_STYLE[bool(card["reversed"])]), Text(""))
                for n, (card, text) in enumerate(zip(reading.cards, reading.card_texts()), start=1)
            ]
            self._show(rows, reading.spread)

    def _show(self, rows: list[tuple], title: str) -> None:
        self.clear()
        for row in rows:
            self.add_row(*row)
        self.border_title = title
