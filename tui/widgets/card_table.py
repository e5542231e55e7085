"""The cards of a spread as drawn: position, card (green upright, red reversed) and its meaning."""

from __future__ import annotations

from textual.widgets import DataTable

from tui.commands.tarot import layout_rows


class CardTable(DataTable):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_columns("#", "position", "card", "meaning")

    def show_layout(self, layout) -> None:
        """Show a spreads.draw.Layout, replacing what was there."""
        self.clear()
        for row in layout_rows(layout):
            self.add_row(*row)
        self.border_title = f"{layout.spread.zh} · {layout.spread.en}"
