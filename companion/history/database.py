"""The history file (`HEARTH_HOME/history.db`): one SQLite connection, its short write transactions, and
the migrations that build its schema. Chats (chats.py) and tarot readings (companion/readings.py) are
peers over it: each writes through `Database.transaction()` and reads through `Database.read()`.

- WAL journal, and every write is one short `BEGIN IMMEDIATE` transaction: a process killed at any
  moment loses at most the write it was making (a reply is written when it completes), and two
  processes writing at once wait for each other (busy timeout) instead of corrupting anything.
- The file is marked as ours (`PRAGMA application_id`). Migrations are registered in order with
  `@migration(name)` and recorded by name in `schema_migrations` when applied; opening a file applies,
  each in its own transaction, those it has no record of. `PRAGMA user_version` carries how many
  there are, so a file from a newer hearth (more than this one knows) is recognised.
- A file that is not SQLite, is damaged, belongs to another program, or was written by a newer
  hearth is refused with a message; it is never overwritten.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from hearth.errors import UserError

APPLICATION_ID = 0x48525448  # "HRTH"
SQLITE_HEADER = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 15_000

# The ratings the schema's CHECK constraints accept, for chats, replies and readings alike.
RATINGS = range(1, 6)


def check_rating(rating) -> int:
    if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
        raise UserError(f"a rating is a whole number from {RATINGS.start} to {RATINGS.stop - 1}, got {rating!r}")
    return rating


# -- migrations -------------------------------------------------------------------------------------

Migration = Callable[[sqlite3.Connection], None]
# (name, how) in the order they run. The name is what a file records once it has a migration, so a
# released migration is never renamed, edited or moved: a change to the schema is a new one at the end.
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(name: str) -> Callable[[Migration], Migration]:
    """Register the decorated function as the next migration, recorded under `name`."""

    def register(apply: Migration) -> Migration:
        MIGRATIONS.append((name, apply))
        return apply

    return register


def latest_version() -> int:
    return len(MIGRATIONS)


def run_script(db: sqlite3.Connection, script: str) -> None:
    """Run `;`-separated statements inside the open transaction (sqlite3's executescript would commit it)."""
    for statement in (s.strip() for s in script.split(";")):
        if statement:
            db.execute(statement)


@migration("chats and messages")
def _chats_and_messages(db: sqlite3.Connection) -> None:
    run_script(db, """
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
        """)


@migration("tarot readings")
def _tarot_readings(db: sqlite3.Connection) -> None:
    run_script(db, """
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
        """)


@migration("readings keep their prompt's context")
def _reading_context(db: sqlite3.Connection) -> None:
    # {language, history?} as JSON: with the cards' positions, what a training row needs to give back the prompt.
    db.execute("ALTER TABLE readings ADD COLUMN context TEXT NOT NULL DEFAULT '{}'")


@migration("curation: swipes, edits, ratings")
def _curation(db: sqlite3.Connection) -> None:
    # A reply's row shows the chosen alternative (so everything that reads `content` reads what was chosen);
    # `alternatives` keeps every reply a /retry produced, `original` what an edited reply first said.
    run_script(db, """
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
        """)


def _applied(db: sqlite3.Connection) -> set[str]:
    """The names of the migrations this file has (none before the first created `schema_migrations`)."""
    if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").fetchone():
        return set()
    return {row[0] for row in db.execute("SELECT name FROM schema_migrations")}


# -- the connection ---------------------------------------------------------------------------------


def _refuse(path: Path, why: str) -> UserError:
    return UserError(
        f"{why}; hearth will not touch it — move it away (or set HEARTH_HOME elsewhere) and try again",
        where=str(path),
    )


class ClosedByWith:
    """`with store:` closes the store at the end of the block (HistoryStore, ReadingStore)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Database:
    """The open history file, checked to be ours and migrated to the latest schema."""

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

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One short write (`BEGIN IMMEDIATE` … `COMMIT`; `ROLLBACK` when the block raises). Threads of this
        process take turns on the connection; other processes wait for each other on the busy timeout."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def read(self, sql: str, params=()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

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
        for version, (name, apply) in enumerate(MIGRATIONS, start=1):
            with self.transaction() as db:
                applied = _applied(db)
                if name in applied:
                    continue  # this file has it (another process may have just applied it)
                if not applied:
                    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    db.execute("CREATE TABLE schema_migrations"
                               " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied REAL NOT NULL)")
                apply(db)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, time.time()))
                db.execute(f"PRAGMA user_version = {version}")
