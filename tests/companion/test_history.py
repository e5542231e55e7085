"""The SQLite history: schema and migrations, refusing files that are not ours, a writer killed
mid-reply, two writers at once, and kept chats back into training data."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from companion.dataset_export import export_dataset, training_messages
from companion.history import APPLICATION_ID, MIGRATIONS, HistoryStore, database, latest_version
from companion.readings import ReadingStore
from hearth.errors import UserError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _child_env() -> dict:
    return {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_a_new_store_has_the_schema_version_and_our_mark(tmp_path):
    path = tmp_path / "history.db"
    with HistoryStore(path) as store:
        chat = store.create_chat(persona="林栀", model="m.gguf", system_prompt="你是林栀", settings={"n_ctx": 2048})
        store.add_message(chat, "user", "你好")
        store.add_message(chat, "assistant", "哟", reasoning="想想", stats={"completion_tokens": 3, "ttft_s": 0.1,
                                                                            "finish_reason": "stop", "bogus": 1})
        messages = store.messages(chat)
        record = store.chat(chat)
    assert [(m.position, m.role, m.content) for m in messages] == [(0, "user", "你好"), (1, "assistant", "哟")]
    assert messages[1].reasoning == "想想" and messages[1].stats == {"completion_tokens": 3, "ttft_s": 0.1,
                                                                  "finish_reason": "stop"}
    assert record.settings == {"n_ctx": 2048} and record.message_count == 2
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert db.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert [tuple(r) for r in db.execute("SELECT version, name FROM schema_migrations")] == [
        (version, name) for version, (name, _) in enumerate(MIGRATIONS, start=1)]


def test_an_older_file_is_migrated_and_keeps_its_data(tmp_path, monkeypatch):
    path = tmp_path / "history.db"
    with HistoryStore(path) as store:
        chat = store.create_chat(persona="林栀")
        store.add_message(chat, "user", "旧消息")
    newer = [*MIGRATIONS, ("chat mood", lambda db: db.execute("ALTER TABLE chats ADD COLUMN mood TEXT"))]
    monkeypatch.setattr(database, "MIGRATIONS", newer)
    with HistoryStore(path) as store:
        assert store.messages(chat)[0].content == "旧消息"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(newer)
    assert [r[0] for r in db.execute("SELECT name FROM schema_migrations ORDER BY version")] == [n for n, _ in newer]
    assert "mood" in [r[1] for r in db.execute("PRAGMA table_info(chats)")]


# What hearth wrote at each schema version while its migrations were numbered (before they were registered and
# recorded by name): every table's SQL as SQLite keeps it, the migrations recorded and the pragmas, taken from
# the files that code created. Never regenerated: it is the past that today's code must keep reading.
RELEASED = json.loads((Path(__file__).parent / "history_versions.json").read_text(encoding="utf-8"))


def _schema(path) -> list[tuple]:
    db = sqlite3.connect(path)
    rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY rowid")
    schema = [(kind, name, table, " ".join(sql.split())) for kind, name, table, sql in rows]
    db.close()
    return schema


def _released_file(path, version: int) -> None:
    """The history file the numbered migrations left at `version`, with a chat (and a reading, from version 2)
    in it — built from RELEASED, not from today's migrations."""
    released = RELEASED[str(version)]
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(f"PRAGMA application_id = {released['application_id']}")
    for _, _, _, sql in released["schema"]:
        db.execute(sql)
    db.executemany("INSERT INTO schema_migrations VALUES (?, ?, 0)", released["migrations"])
    db.execute(f"PRAGMA user_version = {released['user_version']}")
    db.execute("INSERT INTO chats (id, title, persona, kept, created, updated) VALUES (1, '旧的', '林栀', 1, 1, 1)")
    db.execute("INSERT INTO messages (chat_id, position, role, content, finish_reason, created)"
               " VALUES (1, 0, 'user', '你好', NULL, 1), (1, 1, 'assistant', '哟', 'stop', 2)")
    if version >= 2:
        db.execute("INSERT INTO readings (created, person, question, spread, cards, reading, rating)"
                   " VALUES (3, 'Mel', '运势？', '三张牌', '[]', '一切都好。', 5)")
    if version >= 3:
        db.execute("""UPDATE readings SET context = '{"language": "zh"}'""")
    db.close()


@pytest.mark.parametrize("version", [int(v) for v in RELEASED if int(v) < latest_version()])
def test_a_file_from_each_older_version_upgrades_in_place(tmp_path, version):
    path = tmp_path / "history.db"
    _released_file(path, version)
    with HistoryStore(path) as store:
        assert [(m.role, m.content, m.stats) for m in store.messages(1)] == [
            ("user", "你好", {}), ("assistant", "哟", {"finish_reason": "stop"})]
        assert (store.chat(1).title, store.chat(1).kept, store.chat(1).rating) == ("旧的", True, None)
        readings = [(r.person, r.reading, r.rating, r.context) for r in ReadingStore(store).list()]
    context = {"language": "zh"} if version >= 3 else {}
    assert readings == ([("Mel", "一切都好。", 5, context)] if version >= 2 else [])
    HistoryStore(tmp_path / "fresh.db").close()
    assert _schema(path) == _schema(tmp_path / "fresh.db")
    db = sqlite3.connect(path)
    assert [tuple(r) for r in db.execute("SELECT version, name FROM schema_migrations ORDER BY version")] == [
        (number, name) for number, (name, _) in enumerate(MIGRATIONS, start=1)]
    assert db.execute("PRAGMA user_version").fetchone()[0] == latest_version()


@pytest.mark.parametrize("version", [int(v) for v in RELEASED])
def test_the_registered_migrations_build_what_was_released(tmp_path, monkeypatch, version):
    """A released migration is never edited: today's first `version` migrations make the file hearth made then."""
    monkeypatch.setattr(database, "MIGRATIONS", MIGRATIONS[:version])
    path = tmp_path / "history.db"
    HistoryStore(path).close()
    released = RELEASED[str(version)]
    assert _schema(path) == [(kind, name, table, " ".join(sql.split())) for kind, name, table, sql in released["schema"]]
    db = sqlite3.connect(path)
    assert [list(r) for r in db.execute("SELECT version, name FROM schema_migrations ORDER BY version")] == \
        released["migrations"]
    assert db.execute("PRAGMA user_version").fetchone()[0] == released["user_version"]


def test_a_file_from_a_newer_hearth_is_refused(tmp_path):
    path = tmp_path / "history.db"
    HistoryStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {latest_version() + 5}")
    db.commit()
    db.close()
    with pytest.raises(UserError, match="newer hearth"):
        HistoryStore(path)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b"this is somebody's notes, not a database\n" * 50), "not a SQLite database"),
        (lambda p: _foreign_sqlite(p), "belongs to another program"),
        (lambda p: _damaged_store(p), "damaged"),
    ],
    ids=["text-file", "foreign-sqlite", "damaged"],
)
def test_files_that_are_not_our_history_are_refused_and_left_untouched(tmp_path, make, message):
    path = tmp_path / "history.db"
    make(path)
    before = path.read_bytes()
    with pytest.raises(UserError, match=message):
        HistoryStore(path)
    assert path.read_bytes() == before


def _foreign_sqlite(path):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE bookmarks (url TEXT)")
    db.commit()
    db.close()


def _damaged_store(path):
    with HistoryStore(path) as store:
        chat = store.create_chat()
        for i in range(300):
            store.add_message(chat, "user", f"消息 {i} " * 20)
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page : 4 * page] = b"\xff" * (2 * page)  # clobber b-tree pages, keep the header
    path.write_bytes(bytes(data))


KILLED_WRITER = """
import sys, time
from companion.engine import Engine
from companion.history import HistoryStore
from companion.session import ChatSession
from companion.settings import EngineSettings

engine = Engine(EngineSettings(model_path=sys.argv[2], n_ctx=2048, n_threads=1, temperature=0.8, seed=3,
                               max_reply_tokens=24))
session = ChatSession(engine, HistoryStore(sys.argv[1]), system_prompt="你是林栀。")
for i in range(3):
    session.send(f"第{i}句话").consume()
print("chat", session.chat_id, flush=True)
engine.settings.max_reply_tokens = 1000  # the last reply is long, and dies halfway
for n, chunk in enumerate(session.send("最后一句")):
    if n == 5:
        print("mid-reply", flush=True)
        time.sleep(60)
"""


def test_a_writer_killed_mid_reply_loses_only_that_reply(tmp_path, random_gguf):
    path = tmp_path / "history.db"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path), str(random_gguf)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env(),
    )
    try:
        chat_id = int(child.stdout.readline().split()[1])
        assert child.stdout.readline().strip() == "mid-reply"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, child.stderr.read()
    with HistoryStore(path) as store:
        messages = store.messages(chat_id)
        assert [m.role for m in messages] == ["user", "assistant"] * 3 + ["user"]
        assert messages[-1].content == "最后一句"
        assert all(m.stats.get("finish_reason") == "length" for m in messages if m.role == "assistant")
        store.add_message(chat_id, "assistant", "后来补上的回复")  # and it takes writes again
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


CONCURRENT_WRITER = """
import sys
from companion.history import HistoryStore
store = HistoryStore(sys.argv[1])
mine = store.create_chat(persona=sys.argv[2])
shared = int(sys.argv[3]) if len(sys.argv) > 3 else None
for i in range(150):
    store.add_message(mine, "user" if i % 2 == 0 else "assistant", f"{sys.argv[2]} {i}")
    if shared is not None and i % 3 == 0:
        store.add_message(shared, "user", f"{sys.argv[2]} shared {i}")
print(mine)
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "history.db"
    with HistoryStore(path) as store:
        shared = store.create_chat(persona="shared")
    writers = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(path), name, str(shared)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env())
        for name in ("alpha", "beta")
    ]
    outputs = [w.communicate(timeout=120) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], [err for _, err in outputs]
    with HistoryStore(path) as store:
        for (out, _), name in zip(outputs, ("alpha", "beta")):
            messages = store.messages(int(out))
            assert [m.content for m in messages] == [f"{name} {i}" for i in range(150)]
        shared_messages = store.messages(shared)
        assert len(shared_messages) == 2 * 50
        assert [m.position for m in shared_messages] == list(range(100))
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_two_processes_creating_the_file_at_once(tmp_path):
    path = tmp_path / "fresh.db"
    writers = [
        subprocess.Popen([sys.executable, "-c", CONCURRENT_WRITER, str(path), name],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_child_env())
        for name in ("alpha", "beta")
    ]
    outputs = [w.communicate(timeout=120) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], [err for _, err in outputs]
    with HistoryStore(path) as store:
        assert sorted(c.message_count for c in store.chats()) == [150, 150]


def test_undo_and_retry_deletes_from_a_position(tmp_path):
    with HistoryStore(tmp_path / "h.db") as store:
        chat = store.create_chat()
        for i in range(6):
            store.add_message(chat, "user" if i % 2 == 0 else "assistant", str(i))
        store.delete_messages_from(chat, 4)
        assert [m.content for m in store.messages(chat)] == ["0", "1", "2", "3"]
        assert store.add_message(chat, "user", "again").position == 4


def test_unknown_chat_is_a_user_error(tmp_path):
    with HistoryStore(tmp_path / "h.db") as store:
        with pytest.raises(UserError, match="no chat with id 42"):
            store.chat(42)


def _stored(store, chat, rows):
    for role, content, finish in rows:
        store.add_message(chat, role, content, stats={"finish_reason": finish} if finish else None)


def test_kept_chats_become_rows_the_tuner_accepts(tmp_path):
    from tuner.data import load_conversations

    with HistoryStore(tmp_path / "h.db") as store:
        kept = store.create_chat(persona="林栀", system_prompt="你是林栀。")
        _stored(store, kept, [
            ("assistant", "哟，来啦？", None),  # the greeting
            ("user", "你好", None),
            ("assistant", "半截", "cancelled"),
            ("user", "在吗", None),
            ("assistant", "在呢", "stop"),
            ("user", "晚安", None),  # never answered
        ])
        store.update_chat(kept, kept=True)
        not_kept = store.create_chat()
        _stored(store, not_kept, [("user", "秘密", None), ("assistant", "嘘", "stop")])
        empty_kept = store.create_chat()
        _stored(store, empty_kept, [("assistant", "只有开场白", None)])
        store.update_chat(empty_kept, kept=True)
        out = tmp_path / "kept.jsonl"
        summary = export_dataset(store, out)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows == [{"messages": [
        {"role": "system", "content": "你是林栀。"},
        {"role": "user", "content": "你好\n在吗"},
        {"role": "assistant", "content": "在呢"},
    ]}]
    assert summary.written == [kept] and empty_kept in summary.skipped
    loaded = load_conversations([out])
    assert len(loaded.conversations) == 1 and not loaded.rejected


def test_named_chats_are_exported_even_if_not_kept(tmp_path):
    with HistoryStore(tmp_path / "h.db") as store:
        chat = store.create_chat()
        _stored(store, chat, [("user", "问", None), ("assistant", "答", "stop")])
        export_dataset(store, tmp_path / "one.jsonl", [chat])
        with pytest.raises(UserError, match="no kept chats"):
            export_dataset(store, tmp_path / "none.jsonl")
    assert not (tmp_path / "none.jsonl").exists()
    assert json.loads((tmp_path / "one.jsonl").read_text(encoding="utf-8"))["messages"][-1]["content"] == "答"


def test_training_messages_without_a_system_prompt():
    from companion.history import StoredMessage

    stored = [StoredMessage(1, 1, 0, "user", "问"), StoredMessage(2, 1, 1, "assistant", "答")]
    assert training_messages("", stored) == [{"role": "user", "content": "问"}, {"role": "assistant", "content": "答"}]
