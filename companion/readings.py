"""Tarot readings in the history database (`readings` table, the "tarot readings" and "readings keep their
prompt's context" migrations of companion/history/database.py):
store one, list them, rate them 1–5, note on them. Cards, positions and the prompt's context arrive as
plain data (this room knows no tarot); spreads/reading_rows.py writes the good ones back out as training rows.

The store is a peer of the chats' HistoryStore over the history's Database — its connection and short
write transactions — so chats and readings share one file, one schema and the same crash safety.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from hearth.errors import UserError

from companion.history import HistoryStore
from companion.history.database import ClosedByWith, Database, check_rating


@dataclass
class Reading:
    id: int
    created: float
    person: str
    question: str
    spread: str  # as written in the prompt (`牌阵：…`)
    cards: list[dict]  # [{position, meaning?, card, reversed}] in position order, named in the prompt's language
    reading: str
    reasoning: str = ""
    model: str = ""
    tokens: int | None = None
    seconds: float | None = None
    rating: int | None = None
    notes: str = ""

    context: dict = field(default_factory=dict)  # the prompt's context: {language, history?}


class ReadingStore(ClosedByWith):
    def __init__(self, history: HistoryStore | None = None):
        """Over the file an open HistoryStore holds (the app keeps one), else over a file of its own."""
        self._owns_database = history is None
        self.database = history.database if history is not None else Database()

    @property
    def path(self) -> Path:
        return self.database.path

    def add(
        self, *, person: str, question: str, spread: str, cards: list[dict], reading: str, reasoning: str = "",
        model: str = "", tokens: int | None = None, seconds: float | None = None, notes: str = "",
        context: dict | None = None,
    ) -> int:
        rows = [{"position": c["position"], **({"meaning": c["meaning"]} if c.get("meaning") else {}),
                 "card": c["card"], "reversed": bool(c["reversed"])} for c in cards]
        with self.database.transaction() as db:
            cursor = db.execute(
                "INSERT INTO readings (created, person, question, spread, cards, reading, reasoning, model, tokens,"
                " seconds, notes, context) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), person, question, spread, json.dumps(rows, ensure_ascii=False), reading, reasoning,
                 model, tokens, seconds, notes, json.dumps(context or {}, ensure_ascii=False)),
            )
            return cursor.lastrowid

    def get(self, reading_id: int) -> Reading:
        rows = self.database.read("SELECT * FROM readings WHERE id = ?", (reading_id,))
        if not rows:
            raise UserError(f"no reading with id {reading_id}; `hearth tarot readings` lists them")
        return _reading(rows[0])

    def list(self, limit: int | None = None, min_rating: int | None = None, oldest_first: bool = False,
             person: str | None = None) -> list[Reading]:
        conditions = [("rating >= ?", check_rating(min_rating)) if min_rating is not None else None,
                      ("person = ?", person) if person is not None else None]
        conditions = [c for c in conditions if c is not None]
        where = " WHERE " + " AND ".join(sql for sql, _ in conditions) if conditions else ""
        params = tuple(value for _, value in conditions)
        order = "ASC" if oldest_first else "DESC"
        sql = f"SELECT * FROM readings{where} ORDER BY created {order}, id {order}"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_reading(r) for r in self.database.read(sql, params)]

    def rate(self, reading_id: int, rating: int, note: str | None = None) -> Reading:
        check_rating(rating)
        self._update(reading_id, rating=rating, **({"notes": note} if note is not None else {}))
        return self.get(reading_id)

    def note(self, reading_id: int, text: str) -> Reading:
        self._update(reading_id, notes=text)
        return self.get(reading_id)

    def _update(self, reading_id: int, **fields) -> None:
        assignments = ", ".join(f"{name} = ?" for name in fields)
        with self.database.transaction() as db:
            changed = db.execute(f"UPDATE readings SET {assignments} WHERE id = ?", (*fields.values(), reading_id))
            found = changed.rowcount > 0
        if not found:
            self.get(reading_id)  # raises the "no reading with id" message

    def close(self) -> None:
        if self._owns_database:
            self.database.close()


def _reading(row: sqlite3.Row) -> Reading:
    return Reading(
        id=row["id"],
        created=row["created"],
        person=row["person"],
        question=row["question"],
        spread=row["spread"],
        cards=json.loads(row["cards"]),
        reading=row["reading"],
        reasoning=row["reasoning"],
        model=row["model"],
        tokens=row["tokens"],
        seconds=row["seconds"],
        rating=row["rating"],
        notes=row["notes"],
        context=json.loads(row["context"] or "{}"),
    )
