"""Every chat and message, in SQLite at `HEARTH_HOME/history.db`.

- WAL journal, and every write is one short `BEGIN IMMEDIATE` transaction: a process killed at any
  moment loses at most the write it was making (a reply is written when it completes), and two
  processes writing at once wait for each other (busy timeout) instead of corrupting anything.
- The file is marked as ours (`PRAGMA application_id`) and carries its schema version
  (`PRAGMA user_version`, and one row per applied migration in `schema_migrations`). Migrations
  run in order, each in its own transaction, when an older file is opened.
- A file that is not SQLite, is damaged, belongs to another program, or was written by a newer
  hearth is refused with a message; it is never overwritten.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from hearth.errors import UserError

APPLICATION_ID = 0x48525448  # "HRTH"
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 15_000

# (version, what it does, SQL). Append only; a released migration is never edited.
MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "chats and messages",
        """
        CREATE TABLE chats (
            id            INTEGER PRIMARY KEY,
            title         TEXT    NOT NULL DEFAULT '',
            persona       TEXT    NOT NULL DEFAULT '',
            model         TEXT    NOT NULL DEFAULT '',
            system_prompt TEXT    NOT NULL DEFAULT '',
            settings      TEXT    NOT NULL DEFAULT '{}',
            kept          INTEGER NOT NULL DEFAULT 0,
            created       REAL    NOT NULL,
            updated       REAL    NOT NULL
        );
        CREATE TABLE messages (
            id                INTEGER PRIMARY KEY,
            chat_id           INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
            position          INTEGER NOT NULL,
            role              TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content           TEXT    NOT NULL,
            reasoning         TEXT    NOT NULL DEFAULT '',
            prompt_tokens     INTEGER,
            completion_tokens INTEGER,
            ttft_s            REAL,
            tokens_per_s      REAL,
            total_s           REAL,
            finish_reason     TEXT,
            created           REAL    NOT NULL,
            UNIQUE (chat_id, position)
        );
        """,
    ),
    (
        2,
        "tarot readings",
        """
        CREATE TABLE readings (
            id        INTEGER PRIMARY KEY,
            created   REAL    NOT NULL,
            person    TEXT    NOT NULL DEFAULT '',
            question  TEXT    NOT NULL,
            spread    TEXT    NOT NULL,
            cards     TEXT    NOT NULL,
            reading   TEXT    NOT NULL,
            reasoning TEXT    NOT NULL DEFAULT '',
            model     TEXT    NOT NULL DEFAULT '',
            tokens    INTEGER,
            seconds   REAL,
            rating    INTEGER CHECK (rating IS NULL OR rating BETWEEN 1 AND 5),
            notes     TEXT    NOT NULL DEFAULT ''
        );
        CREATE INDEX readings_by_created ON readings (created);
        """,
    ),
    (
        3,
        "readings keep their prompt's context",
        # {language, history?} as JSON: with the cards' positions, what a training row needs to give back the prompt.
        "ALTER TABLE readings ADD COLUMN context TEXT NOT NULL DEFAULT '{}';",
    ),
    (
        4,
        "curation: swipes, edits, ratings",
        # A reply's row shows the chosen alternative (so everything that reads `content` reads what was chosen);
        # `alternatives` keeps every reply a /retry produced, `original` what an edited reply first said.
        """
        ALTER TABLE messages ADD COLUMN original TEXT;
        ALTER TABLE messages ADD COLUMN rating INTEGER CHECK (rating IS NULL OR rating BETWEEN 1 AND 5);
        ALTER TABLE messages ADD COLUMN chosen INTEGER;
        ALTER TABLE chats ADD COLUMN rating INTEGER CHECK (rating IS NULL OR rating BETWEEN 1 AND 5);
        CREATE TABLE alternatives (
            message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            number     INTEGER NOT NULL,
            content    TEXT    NOT NULL,
            reasoning  TEXT    NOT NULL DEFAULT '',
            original   TEXT,
            rating     INTEGER CHECK (rating IS NULL OR rating BETWEEN 1 AND 5),
            stats      TEXT    NOT NULL DEFAULT '{}',
            created    REAL    NOT NULL,
            PRIMARY KEY (message_id, number)
        );
        """,
    ),
]

STAT_COLUMNS = ("prompt_tokens", "completion_tokens", "ttft_s", "tokens_per_s", "total_s", "finish_reason")
RATINGS = range(1, 6)
# What a reply's row takes over from the alternative chosen (the stat columns besides).
MIRRORED = ("content", "reasoning", "original", "rating")


def check_rating(rating) -> int:
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
        raise UserError(f"a rating is a whole number from {RATINGS.start} to {RATINGS.stop - 1}, got {rating!r}")
    return rating


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


def latest_version() -> int:
    return MIGRATIONS[-1][0]


def _refuse(path: Path, why: str) -> UserError:
    return UserError(
        f"{why}; hearth will not touch it — move it away (or set HEARTH_HOME elsewhere) and try again",
        where=str(path),
    )


class HistoryStore:
    def __init__(self, path: str | os.PathLike | None = None):
        if path is None:
            from hearth.paths import history_db

            path = history_db()
        self.path = Path(path)
        self._check_header()
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                       check_same_thread=False)
        except sqlite3.Error as exc:
            raise _refuse(self.path, f"cannot be opened as a database ({exc})") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if "locked" in str(exc):
                raise UserError(
                    f"another program has held the history locked for over {BUSY_TIMEOUT_MS // 1000} s; "
                    "close it and try again", where=str(self.path),
                ) from None
            raise _refuse(self.path, f"is damaged or not a hearth history ({exc})") from None
        except UserError:
            self._db.close()
            raise

    # -- opening --------------------------------------------------------------------------------

    def _check_header(self) -> None:
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return
        if self.path.is_dir():
            raise _refuse(self.path, "is a directory, not hearth's history file")
        with open(self.path, "rb") as f:
            header = f.read(len(SQLITE_HEADER))
        if header and header != SQLITE_HEADER:
            raise _refuse(self.path, "is not a SQLite database, so not hearth's history")

    def _open(self) -> None:
        db = self._db
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # One read transaction, so the checks see one state of the file even while another
        # process is creating it.
        db.execute("BEGIN")
        try:
            application_id = db.execute("PRAGMA application_id").fetchone()[0]
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            check = db.execute("PRAGMA quick_check").fetchone()[0]
            version = db.execute("PRAGMA user_version").fetchone()[0]
        finally:
            db.execute("COMMIT")
        if application_id != APPLICATION_ID and (application_id != 0 or tables):
            raise _refuse(self.path, "is a SQLite database that belongs to another program")
        if check != "ok":
            raise _refuse(self.path, f"is damaged (SQLite's check says: {check})")
        if version > latest_version():
            raise _refuse(self.path, f"was written by a newer hearth (schema {version}, this one knows {latest_version()})")
        self._ensure_wal()
        db.execute("PRAGMA synchronous = NORMAL")  # with WAL: a killed process never loses a commit
        db.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    def _ensure_wal(self) -> None:
        """Switch a new file to WAL. SQLite answers "locked" at once, without waiting, when another
        process is creating the same file; so wait here, up to the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                    return
                if self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0].lower() == "wal":
                    return
                raise _refuse(self.path, "cannot be switched to WAL journaling")
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _migrate(self) -> None:
        for version, name, sql in MIGRATIONS:
            with self._transaction() as db:
                current = db.execute("PRAGMA user_version").fetchone()[0]
                if current >= version:
                    continue  # another process got there first
                if current == 0:
                    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    db.execute(
                        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied REAL NOT NULL)"
                    )
                for statement in _statements(sql):
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, time.time()))
                db.execute(f"PRAGMA user_version = {version}")

    class _Transaction:
        def __init__(self, store: "HistoryStore"):
            self.store = store

        def __enter__(self) -> sqlite3.Connection:
            self.store._lock.acquire()
            try:
                self.store._db.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.store._lock.release()
                raise
            return self.store._db

        def __exit__(self, exc_type, exc, tb) -> None:
            try:
                self.store._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
            finally:
                self.store._lock.release()

    def _transaction(self) -> "_Transaction":
        return HistoryStore._Transaction(self)

    def _read(self, sql: str, params=()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # -- chats ----------------------------------------------------------------------------------

    def create_chat(
        self, *, persona: str = "", model: str = "", system_prompt: str = "", settings: dict | None = None,
        title: str = "",
    ) -> int:
        now = time.time()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO chats (title, persona, model, system_prompt, settings, created, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (title, persona, model, system_prompt, json.dumps(settings or {}, ensure_ascii=False), now, now),
            )
            return cursor.lastrowid

    def chat(self, chat_id: int) -> ChatRecord:
        rows = self._read(
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
        return [_chat_record(r) for r in self._read(sql)]

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
        with self._transaction() as db:
            db.execute(
                f"UPDATE chats SET {assignments}, updated = ? WHERE id = ?",
                (*fields.values(), time.time(), chat_id),
            )

    def delete_chat(self, chat_id: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))

    # -- messages -------------------------------------------------------------------------------

    def add_message(
        self, chat_id: int, role: str, content: str, reasoning: str = "", stats: dict | None = None
    ) -> StoredMessage:
        """Append one message to a chat, as one transaction."""
        stats = {k: v for k, v in (stats or {}).items() if k in STAT_COLUMNS}
        now = time.time()
        with self._transaction() as db:
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
        rows = self._read("SELECT * FROM messages WHERE chat_id = ? ORDER BY position", (chat_id,))
        return [_stored_message(r) for r in rows]

    def delete_messages_from(self, chat_id: int, position: int) -> None:
        """Remove the message at `position` and everything after it (for undo and retry)."""
        with self._transaction() as db:
            db.execute("DELETE FROM messages WHERE chat_id = ? AND position >= ?", (chat_id, position))
            db.execute("UPDATE chats SET updated = ? WHERE id = ?", (time.time(), chat_id))

    # -- curation: alternatives, edits, ratings -----------------------------------------------------

    def message(self, message_id: int) -> StoredMessage:
        rows = self._read("SELECT * FROM messages WHERE id = ?", (message_id,))
        if not rows:
            raise UserError(f"no message with id {message_id} in the history")
        return _stored_message(rows[0])

    def alternatives(self, message_id: int) -> list[Alternative]:
        """Every reply /retry produced at this message's place (empty when there was only one)."""
        rows = self._read("SELECT * FROM alternatives WHERE message_id = ? ORDER BY number", (message_id,))
        return [_alternative(r) for r in rows]

    def add_alternative(self, message_id: int, content: str, reasoning: str = "", stats: dict | None = None) -> int:
        """Keep another reply at this message's place and show it; the earlier ones stay. Returns its number."""
        self.message(message_id)
        with self._transaction() as db:
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
        with self._transaction() as db:
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
        with self._transaction() as db:
            db.execute(f"UPDATE messages SET {assignments} WHERE id = ?", (*params, message_id))
            db.execute(f"UPDATE alternatives SET {assignments} WHERE message_id = ?"
                       " AND number = (SELECT chosen FROM messages WHERE id = ?)", (*params, message_id, message_id))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "HistoryStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


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
