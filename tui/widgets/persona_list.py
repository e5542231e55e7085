"""The home screen's personas: the built-ins and the cards the person imported."""

from __future__ import annotations

from tui.catalog import persona_label
from tui.messages import PersonaChosen
from tui.widgets.listing import Listing


class PersonaList(Listing):
    TITLE = "personas"
    COLUMNS = ("persona", "source")
    EMPTY = "no personas — import a card with `hearth persona import CARD.png`"

    def show_personas(self, entries) -> None:
        """`entries`: personas.library.PersonaEntry items; unreadable cards say why."""
        self.show_rows([
            (entry.name, (persona_label(entry), entry.source if entry.problem is None else "unreadable"))
            for entry in entries
        ])

    def chosen(self, key: str) -> PersonaChosen:
        return PersonaChosen(key)
