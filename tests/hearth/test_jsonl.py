"""JSON lines read lazily with file:line, every mistake one sentence naming where; written whole or not at all."""

from __future__ import annotations

import json

import pytest

from hearth.errors import UserError
from hearth.jsonl import read_lines, read_rows, write_rows


def test_rows_come_with_their_line_numbers_past_blank_lines_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n  \n{"a": "\xe4\xbd\xa0"}\r\n[3]')
    lines = list(read_rows(path))
    assert [(line.number, line.row) for line in lines] == [(1, {"a": 1}), (4, {"a": "你"}), (5, [3])]
    assert lines[1].where == f"{path}:4"


def test_a_value_that_holds_a_line_separator_stays_one_row(tmp_path):
    """U+2028 is legal inside a JSON string; str.splitlines() would cut the row there."""
    path = tmp_path / "sep.jsonl"
    path.write_text(json.dumps({"t": "a\u2028b"}, ensure_ascii=False) + "\n{}\n", encoding="utf-8")
    assert [line.row for line in read_rows(path)] == [{"t": "a\u2028b"}, {}]


def test_rows_are_read_as_they_are_asked_for(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"n": 1}\nnot json\n', encoding="utf-8")
    rows = read_rows(path)
    assert next(rows).row == {"n": 1}  # the bad line further down has not been reached
    with pytest.raises(UserError) as caught:
        next(rows)
    assert str(caught.value).startswith(f"{path}:2: not valid JSON (")


def test_read_lines_lists_every_bad_line_and_goes_on(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"n": 1}\n{"n": \n{"n": 3}\n', encoding="utf-8")
    lines = list(read_lines(path))
    assert [line.row for line in lines] == [{"n": 1}, None, {"n": 3}]
    assert lines[1].where == f"{path}:2" and lines[1].problem.startswith("not valid JSON")


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "no such readings file"),
    (lambda p: p.mkdir(), "cannot read this: it is a directory, not a file"),
    (lambda p: p.write_bytes(b'{"a": 1}\n{"a": "caf\xe9"}\n'), "not UTF-8 text at line 2"),
])
def test_a_file_that_cannot_be_read_is_one_sentence_naming_it(tmp_path, make, message):
    path = tmp_path / "readings.jsonl"
    make(path)
    with pytest.raises(UserError) as caught:
        list(read_rows(path, what="readings file"))
    assert str(caught.value).startswith(f"{path}: {message}")


def test_written_rows_read_back_and_a_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "out.jsonl"
    write_rows(path, ({"n": n, "t": "你好"} for n in range(3)))
    assert "你好" in path.read_text(encoding="utf-8")
    assert [line.row["n"] for line in read_rows(path)] == [0, 1, 2]

    def broken():
        yield {"n": 0}
        raise RuntimeError("the producer failed")

    with pytest.raises(RuntimeError):
        write_rows(tmp_path / "half.jsonl", broken())
    assert list(tmp_path.iterdir()) == [path]
