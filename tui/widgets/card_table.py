"""The cards of a spread as drawn: position, card (green upright, red reversed) and its meaning."""

from __future__ import annotations

from textual.widgets import DataTable

from spreads.reading_rows import stored_language, stored_layout
from tui.tarot_view import layout_rows, spread_title, stored_rows


class CardTable(DataTable):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns("#", "position", "card", "meaning")

    def show_layout(self, layout, language: str = "zh") -> None:
        """Show a spreads.draw.Layout, replacing what was there."""
        self._show(layout_rows(layout, language), spread_title(layout.spread, language))

    def show_stored(self, reading) -> None:
        """Show a stored reading's cards (companion.readings.Reading), with their meanings when its
        spread and cards are still in the deck and the spreads."""
        layout = stored_layout(reading)
        if layout is not None:
            self.show_layout(layout, stored_language(reading))
        else:  # a spread or card named differently: the cards as they were stored
            self._show(stored_rows(reading), reading.spread)

    def _show(self, rows: list[tuple], title: str) -> None:
        self.clear()
        for row in rows:
            self.add_row(*row)
        self.border_title = title
