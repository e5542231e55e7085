"""The home screen's personas: the built-ins and the cards the person imported; `i` imports a card file
through the personas library (personas.library.import_card, as `hearth persona import` does)."""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding

from hearth.errors import UserError
from tui.catalog import persona_label
from tui.messages import PersonaChosen
from tui.widgets.file_picker import FilePicker
from tui.widgets.listing import Listing

CARD_SUFFIXES = (".json", ".png")  # Character Card V1/V2/V3 files (personas/card.py)


class PersonaList(Listing):
    TITLE = "personas"
    COLUMNS = ("persona", "source")
    EMPTY = "no personas — press i to import a card (.png or .json)"
    BINDINGS = [Binding("i", "import_card", "import card")]

    def on_mount(self) -> None:  # Textual runs Listing.on_mount (the title, the columns) as well
        self.border_subtitle = "i: import a card"  # the key is only in the footer while the list has the focus

    def show_personas(self, entries) -> None:
        """`entries`: personas.library.PersonaEntry items; unreadable cards say why."""
        self.show_rows([
            (entry.name, (persona_label(entry), entry.source if entry.problem is None else "unreadable"))
            for entry in entries
        ])

    def chosen(self, key: str) -> PersonaChosen:
        return PersonaChosen(key)

    def action_import_card(self) -> None:
        self.app.push_screen(FilePicker("import a character card", CARD_SUFFIXES), self._import)

    def _import(self, path: Path | None) -> None:
        """Check and keep the card; a bad one (or a name already taken) is a message, the list stays as it was."""
        from personas.card import display_text
        from personas.library import import_card, list_personas

        if path is None:
            return
        try:
            entry = import_card(path)
        except UserError as exc:  # its words may quote the card: shown as plain text, never as markup
            self.notify(display_text(str(exc)), title="card not imported", severity="error", timeout=15, markup=False)
            return
        self.show_personas(list_personas())
        names = [key.value for key in self.table.rows]
        if entry.name in names:
            self.table.move_cursor(row=names.index(entry.name), animate=False)
        self.table.focus()
        self.notify(f"imported {persona_label(entry)}", markup=False)
