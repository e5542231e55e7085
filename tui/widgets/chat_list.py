"""The home screen's past chats, newest first; choosing one continues it."""

from __future__ import annotations

from pathlib import Path

from tui.messages import ChatChosen
from tui.widgets.listing import Listing, listed_time, shorten


class ChatList(Listing):
    TITLE = "chats"
    COLUMNS = ("#", "persona", "began with", "msgs", "kept", "updated", "model")
    EMPTY = "no chats yet — press c to talk to an exported model"

    def show_chats(self, chats, openings: dict[int, str]) -> None:
        """`chats`: companion.history.ChatRecord items; `openings`: chat id → its first words (a
        title the person gave wins)."""
        self.show_rows([
            (
                str(chat.id),
                (
                    str(chat.id),
                    chat.persona or "—",
                    shorten(chat.title or openings.get(chat.id, "")),
                    str(chat.message_count),
                    "✓" if chat.kept else "",
                    listed_time(chat.updated),
                    Path(chat.model).stem if chat.model else "—",
                ),
            )
            for chat in chats
        ])

    def chosen(self, key: str) -> ChatChosen:
        return ChatChosen(int(key))
