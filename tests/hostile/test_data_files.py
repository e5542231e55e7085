"""Hostile data files and output paths: each ends in one line and exit 2 (a merely huge row in a bounded
run), leaves no run behind, loses nothing that was there, and writes nothing outside HEARTH_HOME."""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import pytest

from hostile_run import hearth

ROW = {"messages": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好呀～今天想喝什么茶？"}]}


def jsonl(rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def no_runs(home: Path) -> bool:
    runs = home / "runs"
    return not runs.exists() or not any(runs.iterdir())


@pytest.fixture
def place(tmp_path):
    """A folder for the test's files (HEARTH_HOME is place/home); modes a test took away are given back after."""
    yield tmp_path
    for path in tmp_path.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o755)


def train(place: Path, data: Path):
    return hearth(["train", "--data", str(data), "--max-steps", "1"], place / "home")


def test_an_unreadable_data_file_is_one_line(place):
    data = place / "secret.jsonl"
    data.write_text(jsonl([ROW] * 4), encoding="utf-8")
    data.chmod(0o000)
    line = train(place, data).one_line_error()
    assert "permission denied" in line and "secret.jsonl" in line
    assert no_runs(place / "home")


def test_a_symlink_loop_given_as_data_is_one_line(place):
    loop = place / "loop.jsonl"
    os.symlink(place / "other.jsonl", loop)
    os.symlink(loop, place / "other.jsonl")
    line = train(place, loop).one_line_error()
    assert "symbolic link loop" in line and "loop.jsonl" in line
    assert no_runs(place / "home")


@pytest.mark.parametrize("encode,named", [
    (lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "UTF-16"),
    (lambda text: text.encode("utf-16-be"), "UTF-16"),  # no byte-order mark: told by its zero bytes
    (lambda text: codecs.BOM_UTF32_LE + text.encode("utf-32-le"), "UTF-32"),
])
def test_a_file_in_another_unicode_encoding_is_named_as_such(place, encode, named):
    data = place / "windows-notepad.jsonl"
    data.write_bytes(encode(jsonl([ROW] * 4)))
    line = train(place, data).one_line_error()
    assert named in line and "UTF-8" in line


def test_bad_utf8_is_refused_with_its_line_number(place):
    data = place / "mixed.jsonl"
    latin1 = '{"messages": [{"role": "user", "content": "café"}]}\n'.encode("latin-1")
    data.write_bytes(jsonl([ROW, ROW]).encode("utf-8") + latin1)
    line = train(place, data).one_line_error()
    assert "line 3" in line and "UTF-8" in line


def test_content_parts_are_named_as_unsupported(place):
    data = place / "parts.jsonl"
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "你好"}]},
                          {"role": "assistant", "content": "你好呀"}]}
    data.write_text(jsonl([parts]), encoding="utf-8")
    line = train(place, data).one_line_error()
    assert "content parts" in line and "not supported" in line and "parts.jsonl:1" in line


def test_a_huge_row_is_cut_before_tokenizing_in_bounded_memory(place, tiny_base_dir):
    """A 9 MB reply with max_length 512 is cut to a few thousand tokens' worth of text before the tokenizer sees
    it (whole, this one took 1.4 GB; a 50 MB one took 14 GB and minutes)."""
    data = place / "huge.jsonl"
    huge = {"messages": [{"role": "user", "content": "讲个很长的故事"}, {"role": "assistant", "content": "从前有座山。" * 500_000}]}
    data.write_text(jsonl([huge, ROW, ROW]), encoding="utf-8")
    result = hearth(["data", "check", str(data), "--tokenizer", str(tiny_base_dir)], place / "home")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "3 rows kept" in result.stdout and "1 would be cut" in result.stdout
    assert result.peak_rss_mb < 800, f"peak {result.peak_rss_mb:.0f} MB"


# Commands that write a file the user names: (data file, output path, tokenizer) -> arguments.
OUTPUT_COMMANDS = {
    "data check --report": lambda data, out, tokenizer: ["data", "check", str(data), "--tokenizer", str(tokenizer),
                                                         "--report", str(out)],
    "history export-dataset": lambda data, out, tokenizer: ["history", "export-dataset", str(out)],
    "tarot export-dataset": lambda data, out, tokenizer: ["tarot", "export-dataset", str(out)],
}


@pytest.fixture
def data(place):
    """A data file, and a kept chat and a reading in the history: something for each output command to write."""
    path = place / "ok.jsonl"
    path.write_text(jsonl([ROW] * 4), encoding="utf-8")
    store_a_kept_chat_and_a_reading(place / "home")
    return path


@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
def test_an_output_path_that_is_a_directory_is_one_line(place, data, tiny_base_dir, command):
    out = place / "existing-folder"
    (out / "inside").mkdir(parents=True)
    line = hearth(OUTPUT_COMMANDS[command](data, out, tiny_base_dir), place / "home").one_line_error()
    assert "is a directory" in line and str(out) in line
    assert (out / "inside").is_dir()  # nothing lost


@pytest.mark.parametrize("command", OUTPUT_COMMANDS)
def test_an_output_path_in_a_read_only_folder_is_one_line(place, data, tiny_base_dir, command):
    locked = place / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    line = hearth(OUTPUT_COMMANDS[command](data, locked / "out.jsonl", tiny_base_dir), place / "home").one_line_error()
    assert "permission denied" in line and "out.jsonl" in line
    assert list(locked.iterdir()) == []


def store_a_kept_chat_and_a_reading(home: Path) -> None:
    """One kept chat and one reading in HEARTH_HOME/history.db, for the export-dataset commands."""
    from companion.history import HistoryStore
    from companion.readings import ReadingStore

    home.mkdir(parents=True, exist_ok=True)
    with HistoryStore(home / "history.db") as store:
        chat = store.create_chat(persona="linzhi", model="x.gguf", title="t")
        store.add_message(chat, "user", "你好")
        store.add_message(chat, "assistant", "你好呀")
        store.update_chat(chat, kept=True)
        ReadingStore(store).add(person="Mel", question="运势？", spread="三张牌", reading="一切都好。",
                                cards=[{"position": "过去", "card": "愚人", "reversed": False}])


def test_empty_cards_for_a_reading_are_refused_not_drawn(place):
    line = hearth(["tarot", "read", "--question", "我的运势如何？", "--spread", "three-card", "--cards", ""],
                  place / "home").one_line_error()
    assert "--cards is empty" in line
    assert not (place / "home" / "history.db").exists()  # nothing drawn, nothing stored
