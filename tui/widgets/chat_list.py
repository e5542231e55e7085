"""The home screen's past chats, newest first; choosing one continues it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tui.messages import ChatChosen
from tui.widgets.listing import Listing


class ChatList(Listing):
    TITLE = "chats"
    COLUMNS = ("#", "persona", "model", "messages", "kept", "updated")
    EMPTY = "no chats yet — press c to talk to an exported model"

    def show_chats(self, chats) -> None:
        """`chats`: companion.history.ChatRecord items."""
        self.show_rows([
            (
                str(chat.id),
                (
                    str(chat.id),
                    chat.title or chat.persona or "—",
                    Path(chat.model).name if chat.model else "—",
                    str(chat.message_count),
                    "✓" if chat.kept else "",
                    datetime.fromtimestamp(chat.updated).strftime("%m-%d %H:%M"),
                ),
            )
            for chat in chats
        ])

    def chosen(self, key: str) -> ChatChosen:
        return ChatChosen(int(key))
