"""The readings store (migrations 2 and 3 of the history database) and its export as tarot training rows."""

from __future__ import annotations

import json
import sqlite3

import pytest

from companion.history import HistoryStore
from companion.readings import ReadingStore
from hearth.errors import UserError
from hearth.paths import history_db
from spreads.reading_rows import card_texts, export_readings

CARDS = [
    {"position": "过去", "card": "愚人", "reversed": False},
    {"position": "现在", "card": "力量", "reversed": True},
    {"position": "未来", "card": "星币十", "reversed": False},
]


def _add(store: ReadingStore, **overrides) -> int:
    fields = dict(person="Mel", question="2024年我的整体运势如何？", spread="三张牌（过去/现在/未来）", cards=CARDS,
                  reading="这是一段解读。", reasoning="先看过去。", model="/models/tiny.gguf", tokens=42, seconds=1.5)
    return store.add(**{**fields, **overrides})


def test_a_fresh_history_has_the_readings_table():
    with HistoryStore():
        pass
    db = sqlite3.connect(history_db())
    columns = [row[1] for row in db.execute("PRAGMA table_info(readings)")]
    assert columns == ["id", "created", "person", "question", "spread", "cards", "reading", "reasoning", "model",
                       "tokens", "seconds", "rating", "notes", "context"]


def test_add_get_list_rate_and_note():
    with ReadingStore() as store:
        first = _add(store)
        second = _add(store, person="阿杰", reading="第二段。")
        reading = store.get(first)
        assert (reading.person, reading.tokens, reading.seconds, reading.model) == ("Mel", 42, 1.5, "/models/tiny.gguf")
        assert reading.cards == CARDS and reading.rating is None and reading.notes == ""
        assert card_texts(reading) == ["愚人(正位)", "力量(逆位)", "星币十(正位)"] and reading.context == {}
        assert [r.id for r in store.list()] == [second, first]  # newest first
        assert [r.id for r in store.list(limit=1)] == [second]
        rated = store.rate(first, 5, note="很准")
        assert (rated.rating, rated.notes) == (5, "很准")
        assert store.rate(first, 4).notes == "很准"  # rating without a note keeps the note
        assert store.note(second, "太笼统").notes == "太笼统"
        assert [r.id for r in store.list(min_rating=4)] == [first]


def test_ratings_out_of_range_and_unknown_ids_are_user_errors():
    with ReadingStore() as store:
        reading_id = _add(store)
        for bad in (0, 6, 3.5, True):
            with pytest.raises(UserError, match="from 1 to 5"):
                store.rate(reading_id, bad)
        with pytest.raises(UserError, match="no reading with id 99"):
            store.rate(99, 3)
        with pytest.raises(UserError, match="no reading with id 99"):
            store.get(99)
        assert store.get(reading_id).rating is None


def test_readings_share_the_history_file_with_chats():
    with HistoryStore() as history:
        chat_id = history.create_chat(persona="林栀")
        store = ReadingStore(history)
        reading_id = _add(store)
        store.close()  # does not close the history it was given
        assert history.chat(chat_id).persona == "林栀"
    with ReadingStore() as store:
        assert store.get(reading_id).person == "Mel"


def test_export_round_trips_through_the_training_loader(tmp_path):
    from tuner.data import load_conversations
    from tuner.formats import tarot_prompt

    out = tmp_path / "out" / "readings.jsonl"
    with ReadingStore() as store:
        good = _add(store)
        _add(store, person="阿杰", reading="一般。")
        _add(store, reading="   ")  # an empty reading teaches nothing
        store.rate(good, 5)
        summary = export_readings(store, out, min_rating=4)
    assert summary.written == [good]
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    positions = [{"name": "过去", "meaning": ""}, {"name": "现在", "meaning": ""}, {"name": "未来", "meaning": ""}]
    assert rows == [{"person": "Mel", "question": "2024年我的整体运势如何？", "spread": "三张牌（过去/现在/未来）",
                     "cards": ["愚人(正位)", "力量(逆位)", "星币十(正位)"], "positions": positions, "language": "zh",
                     "reading": "这是一段解读。"}]
    loaded = load_conversations([out], "tarot")
    assert not loaded.rejected
    (conversation,) = loaded.conversations
    assert conversation.messages == [
        {"role": "user", "content": tarot_prompt("Mel", "2024年我的整体运势如何？", "三张牌（过去/现在/未来）",
                                                 ["愚人(正位)", "力量(逆位)", "星币十(正位)"], positions)},
        {"role": "assistant", "content": "这是一段解读。"},
    ]
    with ReadingStore() as store:
        assert len(export_readings(store, tmp_path / "all.jsonl").written) == 2  # no minimum: every non-empty reading
        assert len(load_conversations([tmp_path / "all.jsonl"], "auto").conversations) == 2


def test_export_with_nothing_to_write_leaves_the_target_alone(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    kept = folder / "kept.jsonl"
    kept.write_text("earlier export\n", encoding="utf-8")
    with ReadingStore() as store:
        _add(store)
        with pytest.raises(UserError, match="no readings rated 5 or more"):
            export_readings(store, folder / "new.jsonl", min_rating=5)
        with pytest.raises(UserError, match="no readings rated 5 or more"):
            export_readings(store, kept, min_rating=5)
    assert [p.name for p in folder.iterdir()] == ["kept.jsonl"]
    assert kept.read_text(encoding="utf-8") == "earlier export\n"
