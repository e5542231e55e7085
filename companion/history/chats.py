"""Chats, their messages and their curation (alternatives from /retry, edits, ratings), over the history
file's Database (database.py): every write one short transaction, so a killed process loses at most
the reply it was writing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from hearth.errors import UserError

from companion.history.database import ClosedByWith, Database, check_rating

STAT_COLUMNS = ("prompt_tokens", "completion_tokens", "ttft_s", "tokens_per_s", "total_s", "finish_reason")
# What a reply's row takes over from the alternative chosen (the stat columns besides).
MIRRORED = ("content", "reasoning", "original", "rating")


@dataclass
class ChatRecord:
    id: int
    title: str
    persona: str
    model: str
    system_prompt: str
    settings: dict
    kept: bool
    created: float
    updated: float
    message_count: int = 0
    rating: int | None = None


@dataclass
class StoredMessage:
    id: int
    chat_id: int
    position: int
    role: str
    content: str
    reasoning: str = ""
    created: float = 0.0
    stats: dict = field(default_factory=dict)
    original: str | None = None  # what an edited reply first said
    rating: int | None = None
    chosen: int | None = None  # the number of the alternative shown, when /retry made several

    def as_chat_message(self) -> dict:
        return {"role": self.role, "content": self.content}


@dataclass
class Alternative:
    """One of the replies /retry produced at one place in a chat (numbered from 0, oldest first)."""

    number: int
    content: str
    reasoning: str = ""
    original: str | None = None
    rating: int | None = None
    stats: dict = field(default_factory=dict)


class HistoryStore(ClosedByWith):
    """The chats in the history file; `database` is the open file, shared with companion/readings.py."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.database = Database(path)

    @property
    def path(self) -> Path:
        return self.database.path

    # -- chats ----------------------------------------------------------------------------------

    def create_chat(
        self, *, persona: str = "", model: str = "", system_prompt: str = "", settings: dict | None = None,
        title: str = "",
    ) -> int:
        now = time.time()
        with self.database.transaction() as db:
            cursor = db.execute(
                "INSERT INTO chats (title, persona, model, system_prompt, settings, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (title, persona, model, system_prompt, json.dumps(settings or {}, ensure_ascii=False), now, now),
            )
            return cursor.lastrowid

    def chat(self, chat_id: int) -> ChatRecord:
        rows = self.database.read(
            "SELECT c.*, (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id) AS message_count"
            " FROM chats c WHERE c.id = ?",
            (chat_id,),
        )
        if not rows:
            raise UserError(f"no chat with id {chat_id} in the history; `hearth history chats` lists them")
        return _chat_record(rows[0])

    def chats(self, kept_only: bool = False, limit: int | None = None) -> list[ChatRecord]:
        sql = (
            "SELECT c.*, (SELECT COUNT(*) FROM messages m WHERE m.chat_id = c.id) AS message_count FROM chats c"
            + (" WHERE c.kept = 1" if kept_only else "")
            + " ORDER BY c.updated DESC, c.id DESC"
            + (f" LIMIT {int(limit)}" if limit else "")
        )
        return [_chat_record(r) for r in self.database.read(sql)]

    def update_chat(self, chat_id: int, **fields) -> None:
        """Change title, persona, model, system_prompt, settings, kept or rating."""
        allowed = {"title", "persona", "model", "system_prompt", "settings", "kept", "rating"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not chat fields: {sorted(unknown)}")
        if "settings" in fields:
            fields["settings"] = json.dumps(fields["settings"], ensure_ascii=False)
        if "kept" in fields:
            fields["kept"] = int(bool(fields["kept"]))
        if fields.get("rating") is not None:
            check_rating(fields["rating"])
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self.database.transaction() as db:
            db.execute(
                f"UPDATE chats SET {assignments}, updated = ? WHERE id = ?",
                (*fields.values(), time.time(), chat_id),
            )

    def delete_chat(self, chat_id: int) -> None:
        with self.database.transaction() as db:
            db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    # -- messages -------------------------------------------------------------------------------

    def add_message(
        self, chat_id: int, role: str, content: str, reasoning: str = "", stats: dict | None = None
    ) -> StoredMessage:
        """Append one message to a chat, as one transaction."""
        stats = {k: v for k, v in (stats or {}).items() if k in STAT_COLUMNS}
        now = time.time()
        with self.database.transaction() as db:
            position = db.execute(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM messages WHERE chat_id = ?", (chat_id,)
            ).fetchone()[0]
            columns = ("chat_id", "position", "role", "content", "reasoning", "created", *stats)
            cursor = db.execute(
                f"INSERT INTO messages ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                (chat_id, position, role, content, reasoning, now, *stats.values()),
            )
            db.execute("UPDATE chats SET updated = ? WHERE id = ?", (now, chat_id))
        return StoredMessage(cursor.lastrowid, chat_id, position, role, content, reasoning, now, stats)

    def messages(self, chat_id: int) -> list[StoredMessage]:
        rows = self.database.read("SELECT * FROM messages WHERE chat_id = ? ORDER BY position", (chat_id,))
        return [_stored_message(r) for r in rows]

    def delete_messages_from(self, chat_id: int, position: int) -> None:
        """Remove the message at `position` and everything after it (for undo and retry)."""
        with self.database.transaction() as db:
            db.execute("DELETE FROM messages WHERE chat_id = ? AND position >= ?", (chat_id, position))
            db.execute("UPDATE chats SET updated = ? WHERE id = ?", (time.time(), chat_id))

    # -- curation: alternatives, edits, ratings -----------------------------------------------------

    def message(self, message_id: int) -> StoredMessage:
        rows = self.database.read("SELECT * FROM messages WHERE id = ?", (message_id,))
        if not rows:
            raise UserError(f"no message with id {message_id} in the history")
        return _stored_message(rows[0])

    def alternatives(self, message_id: int) -> list[Alternative]:
        """Every reply /retry produced at this message's place (empty when there was only one)."""
        rows = self.database.read("SELECT * FROM alternatives WHERE message_id = ? ORDER BY number", (message_id,))
        return [_alternative(r) for r in rows]

    def add_alternative(self, message_id: int, content: str, reasoning: str = "", stats: dict | None = None) -> int:
        """Keep another reply at this message's place and show it; the earlier ones stay. Returns its number."""
        self.message(message_id)
        with self.database.transaction() as db:
            count = db.execute("SELECT COUNT(*) FROM alternatives WHERE message_id = ?", (message_id,)).fetchone()[0]
            if count == 0:  # the reply shown so far becomes alternative 0
                row = db.execute("SELECT * FROM messages WHERE id = ?", (message_id,)).fetchone()
                _insert_alternative(db, message_id, 0, row["content"], row["reasoning"], row["original"],
                                    row["rating"], {k: row[k] for k in STAT_COLUMNS if row[k] is not None})
                count = 1
            _insert_alternative(db, message_id, count, content, reasoning, None, None, stats or {})
            _show_alternative(db, message_id, count)
        return count

    def choose_alternative(self, message_id: int, number: int) -> StoredMessage:
        """Show (and so choose) alternative `number` at this message's place."""
        count = len(self.alternatives(message_id))
        if not 0 <= number < count:
            raise UserError(f"message {message_id} has {count} alternative(s); there is no number {number}")
        with self.database.transaction() as db:
            _show_alternative(db, message_id, number)
        return self.message(message_id)

    def edit_message(self, message_id: int, content: str) -> StoredMessage:
        """Change what a message says; the first text it had is kept as its original."""
        if not content.strip():
            raise UserError("the edited text is empty; a reply needs some text")
        self._update_shown(message_id, "original = COALESCE(original, content), content = ?", (content,))
        return self.message(message_id)

    def rate_message(self, message_id: int, rating: int) -> StoredMessage:
        check_rating(rating)
        self._update_shown(message_id, "rating = ?", (rating,))
        return self.message(message_id)

    def _update_shown(self, message_id: int, assignments: str, params: tuple) -> None:
        """Change a message and, when it shows one of several alternatives, that alternative too."""
        self.message(message_id)
        with self.database.transaction() as db:
            db.execute(f"UPDATE messages SET {assignments} WHERE id = ?", (*params, message_id))
            db.execute(f"UPDATE alternatives SET {assignments} WHERE message_id = ?"
                       " AND number = (SELECT chosen FROM messages WHERE id = ?)", (*params, message_id, message_id))

    def close(self) -> None:
        self.database.close()


def _insert_alternative(db, message_id: int, number: int, content: str, reasoning: str, original, rating,
                        stats: dict) -> None:
    db.execute(
        "INSERT INTO alternatives (message_id, number, content, reasoning, original, rating, stats, created)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (message_id, number, content, reasoning, original, rating, json.dumps(stats, ensure_ascii=False), time.time()),
    )


def _show_alternative(db, message_id: int, number: int) -> None:
    row = db.execute("SELECT * FROM alternatives WHERE message_id = ? AND number = ?", (message_id, number)).fetchone()
    stats = json.loads(row["stats"] or "{}")
    columns = (*MIRRORED, *STAT_COLUMNS, "chosen")
    values = (*(row[c] for c in MIRRORED), *(stats.get(c) for c in STAT_COLUMNS), number)
    db.execute(f"UPDATE messages SET {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?", (*values, message_id))


def _alternative(row: sqlite3.Row) -> Alternative:
    return Alternative(row["number"], row["content"], row["reasoning"], row["original"], row["rating"],
                       json.loads(row["stats"] or "{}"))


def _chat_record(row: sqlite3.Row) -> ChatRecord:
    return ChatRecord(
        id=row["id"],
        title=row["title"],
        persona=row["persona"],
        model=row["model"],
        system_prompt=row["system_prompt"],
        settings=json.loads(row["settings"] or "{}"),
        kept=bool(row["kept"]),
        created=row["created"],
        updated=row["updated"],
        message_count=row["message_count"],
        rating=row["rating"],
    )


def _stored_message(row: sqlite3.Row) -> StoredMessage:
    return StoredMessage(
        id=row["id"],
        chat_id=row["chat_id"],
        position=row["position"],
        role=row["role"],
        content=row["content"],
        reasoning=row["reasoning"],
        created=row["created"],
        stats={k: row[k] for k in STAT_COLUMNS if row[k] is not None},
        original=row["original"],
        rating=row["rating"],
        chosen=row["chosen"],
    )
