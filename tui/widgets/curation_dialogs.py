"""The chat screen's two curation dialogs, keyboard-first: edit a reply's text (a TextArea; ctrl+s saves,
Esc cancels) and rate 1–5 (a digit rates; `c` switches between the reply and the whole chat). Each names
the reply it is for ("the last reply", "reply #2": the one picked on the chat screen). They only ask: the
chat screen hands the answer to the session (companion/session.py), which stores it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, TextArea

LAST_REPLY = "the last reply"


class EditReplyDialog(ModalScreen[str | None]):
    """Dismissed with the edited text, or None when cancelled."""

    BINDINGS = [Binding("ctrl+s", "save", "save"), Binding("escape", "cancel", "cancel")]

    def __init__(self, text: str, reply: str = LAST_REPLY) -> None:
        super().__init__(classes="curation-dialog")
        self.text = text
        self.reply = reply

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"edit {self.reply} · ctrl+s saves · esc cancels", id="edit-title", classes="dialog-title")
            yield TextArea(self.text, id="edit-text", soft_wrap=True, show_line_numbers=False)

    def on_mount(self) -> None:
        area = self.query_one("#edit-text", TextArea)
        area.focus()
        area.move_cursor(area.document.end)

    def action_save(self) -> None:
        self.dismiss(self.query_one("#edit-text", TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RatingDialog(ModalScreen[tuple[str, int] | None]):
    """Dismissed with (subject, rating): subject "reply" or "chat"; None when cancelled."""

    BINDINGS = [
        *(Binding(str(n), f"rate({n})", str(n), show=False) for n in range(1, 6)),
        Binding("c", "switch", "reply / chat", show=False),
        Binding("escape", "cancel", "cancel", show=False),
    ]

    def __init__(self, reply: str = LAST_REPLY, subject: str = "reply") -> None:
        super().__init__(classes="curation-dialog")
        # what a rating applies to: `c` switches between them
        self.subjects = {"reply": reply, "chat": "the whole chat"}
        self.subject = subject

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title(), id="rating-title", classes="dialog-title")
            yield Label("1–5 rates · c: rate the other (reply / whole chat) · esc cancels", classes="dialog-help")

    def _title(self) -> str:
        return f"rate {self.subjects[self.subject]}"

    def action_rate(self, rating: int) -> None:
        self.dismiss((self.subject, rating))

    def action_switch(self) -> None:
        self.subject = next(s for s in self.subjects if s != self.subject)
        self.query_one("#rating-title", Label).update(self._title())

    def action_cancel(self) -> None:
        self.dismiss(None)
