"""The home screen's tarot readings, newest first; choosing one shows it again (and lets you rate it)."""

from __future__ import annotations

from tui.messages import ReadingChosen
from tui.widgets.listing import Listing, listed_time, shorten


class ReadingList(Listing):
    TITLE = "readings"
    COLUMNS = ("#", "question", "rating", "spread", "when")
    EMPTY = "no readings yet — press a to ask the cards"

    def show_readings(self, readings) -> None:
        """`readings`: companion.readings.Reading items."""
        self.show_rows([
            (str(r.id), (str(r.id), shorten(r.question), "★" * (r.rating or 0), shorten(r.spread, 6),
                         listed_time(r.created)))
            for r in readings
        ])

    def chosen(self, key: str) -> ReadingChosen:
        return ReadingChosen(int(key))
