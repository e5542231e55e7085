"""Card coverage of a readings dataset: counts, cards never seen, unreadable names with file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hearth.errors import UserError
from spreads.coverage import card_coverage
from spreads.card_parser import find_card

SAMPLE = Path(__file__).resolve().parents[2] / "spreads" / "readings-sample.jsonl"


def _write_rows(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _row(cards) -> dict:
    return {"person": "Mel", "question": "q", "spread": "单张牌", "cards": cards, "reading": "r"}


def test_the_bundled_sample_shows_every_card_but_not_every_card_reversed():
    coverage = card_coverage([SAMPLE])
    assert coverage.readings == 50 and coverage.problems == []
    assert coverage.draws == sum(len(json.loads(line)["cards"]) for line in SAMPLE.read_text(encoding="utf-8").splitlines())
    assert coverage.missing_cards() == []
    never_reversed = coverage.only_one_way(True)
    assert never_reversed and all(coverage.count(c, False) > 0 and coverage.count(c, True) == 0 for c in never_reversed)
    assert coverage.missing_combinations() == len(never_reversed) + len(coverage.only_one_way(False))
    assert [g.group for g in coverage.by_group()] == ["major", "wands", "cups", "swords", "pentacles"]
    assert sum(g.upright + g.reversed for g in coverage.by_group()) == coverage.draws


def test_missing_cards_of_a_small_dataset(tmp_path):
    data = _write_rows(tmp_path / "few.jsonl", [
        _row(["愚人(正位)", "力量(逆位)", "金币十(逆位)"]),
        _row([{"card": "愚人", "reversed": True}]),  # the structured form the training loader accepts
        "",
    ])
    coverage = card_coverage([data])
    fool, strength, ten = find_card("愚人"), find_card("力量"), find_card("星币十")
    assert coverage.count(fool, False) == coverage.count(fool, True) == 1
    assert coverage.count(ten, True) == 1
    missing = coverage.missing_cards()
    assert len(missing) == 75 and {fool, strength, ten}.isdisjoint(missing)
    assert coverage.only_one_way(False) == [strength, ten]  # seen, never upright
    groups = {g.group: g for g in coverage.by_group()}
    assert (groups["major"].seen, groups["pentacles"].seen, groups["cups"].seen) == (2, 1, 0)


def test_unknown_card_names_and_broken_rows_are_flagged_with_file_and_line(tmp_path):
    data = _write_rows(tmp_path / "bad.jsonl", [
        _row(["愚人(正位)"]),
        _row(["愚蠢(正位)", "力量(正位)"]),
        "{not json",
        {"messages": []},
    ])
    coverage = card_coverage([data])
    where = [(p.where, p.message) for p in coverage.problems]
    assert where[0][0] == f"{data}:2" and "'愚蠢'" in where[0][1]
    assert where[1][0] == f"{data}:3" and "not valid JSON" in where[1][1]
    assert where[2][0] == f"{data}:4" and "no 'cards'" in where[2][1]
    assert coverage.count(find_card("力量"), False) == 1  # the row's good cards still count
    assert coverage.readings == 2


def test_a_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such readings file"):
        card_coverage([tmp_path / "none.jsonl"])


def test_coverage_command_prints_the_summary_missing_cards_and_problems(hearth, tmp_path, capsys):
    data = _write_rows(tmp_path / "few.jsonl", [_row(["愚人(正位)"]), _row(["塔罗(正位)"])])
    assert hearth(["tarot", "coverage", str(data)]) == 0
    out = capsys.readouterr().out
    assert "1 of 78 cards seen" in out
    assert "never seen (77)" in out and "魔术师" in out and "星币国王" in out
    assert "pentacles" in out and "major" in out
    assert "few.jsonl:2" in out and "塔罗" in out
