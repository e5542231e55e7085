"""`hearth tarot` without a model: draw, readings, rate, export-dataset, and bad input (one line, exit 2,
nothing written)."""

from __future__ import annotations

import json

import pytest

from companion.readings import ReadingStore
from hearth.paths import history_db


def _one_line_error(capsys, *expected: str) -> None:
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error:") and "\n" not in err, err
    assert "Traceback" not in captured.err
    for text in expected:
        assert text in err, err


def test_draw_prints_every_position_and_card_and_the_seed_repeats_it(hearth, capsys):
    assert hearth(["tarot", "draw", "--spread", "three-card", "--seed", "11"]) == 0
    first = capsys.readouterr().out
    for position in ("过去", "现在", "未来"):
        assert position in first
    cards_line = next(line for line in first.splitlines() if line.startswith("to read them: --cards"))
    assert len(cards_line.split('"')[1].split(",")) == 3
    assert hearth(["tarot", "draw", "--spread", "三张牌", "--seed", "11"]) == 0
    assert capsys.readouterr().out == first
    assert not history_db().exists()  # drawing stores nothing


def test_draw_with_all_upright(hearth, capsys):
    assert hearth(["tarot", "draw", "--spread", "celtic-cross", "--reversed-probability", "0"]) == 0
    out = capsys.readouterr().out
    cards_line = next(line for line in out.splitlines() if line.startswith("to read them: --cards"))
    assert cards_line.count("(正位)") == 10 and "(逆位)" not in out


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--spread", "生命之树"], ["unknown spread '生命之树'", "celtic-cross"]),
        (["--spread", "three-card", "--cards", "愚人(正位),力量(逆位)"], ["3 position(s)", "2 card(s)"]),
        (["--spread", "three-card", "--cards", "愚人,力量,愚者(逆位)"], ["愚人 is given twice"]),
        (["--spread", "single", "--cards", "愚蠢(逆位)"], ["unknown tarot card '愚蠢'", "did you mean"]),
        (["--spread", "single", "--cards", "愚人", "--question", "  "], ["--question is empty"]),
    ],
)
def test_bad_reading_input_is_one_line_exit_2_and_nothing_is_written(hearth, capsys, tmp_path, extra, expected):
    args = ["tarot", "read", "--model", str(tmp_path / "never-loaded.gguf"), "--question", "运势？", *extra]
    assert hearth(args) == 2
    _one_line_error(capsys, *expected)
    assert not history_db().exists()


def _stored(count: int = 2) -> list[int]:
    with ReadingStore() as store:
        return [
            store.add(person=f"P{i}", question="运势？", spread="单张牌",
                      cards=[{"position": "指引", "card": "愚人", "reversed": bool(i % 2)}], reading=f"解读{i}",
                      model="/models/tiny.gguf", tokens=10, seconds=0.5)
            for i in range(count)
        ]


def test_readings_rate_and_export_through_the_cli(hearth, capsys, tmp_path):
    first, second = _stored()
    assert hearth(["tarot", "rate", str(first), "5", "--note", "很准"]) == 0
    assert "rated 5/5" in capsys.readouterr().out
    assert hearth(["tarot", "readings"]) == 0
    listing = capsys.readouterr().out
    assert "P0" in listing and "P1" in listing and "★★★★★" in listing
    assert hearth(["tarot", "readings", str(first)]) == 0
    shown = capsys.readouterr().out
    assert "解读0" in shown and "很准" in shown and "tiny.gguf" in shown and "指引: 愚人(正位)" in shown
    out = tmp_path / "rated.jsonl"
    assert hearth(["tarot", "export-dataset", str(out), "--min-rating", "4"]) == 0
    assert "wrote 1 reading(s)" in capsys.readouterr().out
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["person"] for row in rows] == ["P0"] and rows[0]["cards"] == ["愚人(正位)"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["rate", "99", "3"], ["no reading with id 99"]),
        (["rate", "{first}", "6"], ["from 1 to 5, got 6"]),
        (["rate", "{first}", "0", "--note", "x"], ["from 1 to 5, got 0"]),
        (["readings", "99"], ["no reading with id 99"]),
        (["export-dataset", "{out}", "--min-rating", "9"], ["from 1 to 5, got 9"]),
        (["export-dataset", "{out}", "--min-rating", "5"], ["no readings rated 5 or more"]),
    ],
)
def test_bad_reading_ids_and_ratings_are_one_line_exit_2_and_change_nothing(hearth, capsys, tmp_path, args, expected):
    (first,) = _stored(1)
    out = tmp_path / "export.jsonl"
    argv = ["tarot", *(a.format(first=first, out=out) for a in args)]
    assert hearth(argv) == 2
    _one_line_error(capsys, *expected)
    with ReadingStore() as store:
        reading = store.get(first)
    assert (reading.rating, reading.notes) == (None, "")
    assert not out.exists()


def test_rating_before_any_history_creates_nothing(hearth, capsys):
    assert hearth(["tarot", "rate", "1", "7"]) == 2
    _one_line_error(capsys, "from 1 to 5")
    assert not history_db().exists()


def test_add_positions_upgrades_original_rows_and_refuses_a_bad_one_with_its_line(hearth, capsys, tmp_path):
    from tuner.formats import from_tarot

    source = tmp_path / "old.jsonl"
    rows = [{"person": "Mel", "question": "会顺利吗？", "spread": "单张牌", "cards": ["愚人(逆位)"], "reading": "会的。"},
            {"person": "Ann", "question": "Will it work?", "spread": "three-card", "reading": "Yes.",
             "cards": ["The Fool (upright)", "Strength (reversed)", "The Sun (upright)"]}]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "new.jsonl"
    assert hearth(["tarot", "add-positions", str(source), "--out", str(out)]) == 0
    upgraded = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert upgraded[0]["positions"] == [{"name": "指引", "meaning": "此刻最需要听见的提醒"}]
    assert [p["name"] for p in upgraded[1]["positions"]] == ["Past", "Present", "Future"]  # the row's language
    assert "1. Past (what brought you here and still shapes things): The Fool (upright)" in from_tarot(upgraded[1])[0]["content"]

    source.write_text(source.read_text(encoding="utf-8") + json.dumps({**rows[0], "cards": ["愚人", "力量"]}) + "\n",
                      encoding="utf-8")
    capsys.readouterr()
    assert hearth(["tarot", "add-positions", str(source), "--out", str(tmp_path / "never.jsonl")]) == 2
    _one_line_error(capsys, f"{source}:3", "has 1 position(s) but the row has 2 card(s)")
    assert not (tmp_path / "never.jsonl").exists()
