"""Your own spreads: YAML or JSON files in HEARTH_HOME/spreads/ load beside the bundled ones, are listed,
drawn from and read; a broken file is reported with its path and the field at fault while the others load."""

from __future__ import annotations

import json
import random

import pytest

from hearth.errors import UserError
from hearth.paths import hearth_home
from spreads.draw import cards_given, draw_cards
from spreads.reading import ReadingRequest
from spreads.spread import bundled_spreads, default_spreads, find_spread

CROSSROADS = """\
id: crossroads
zh: 十字路口
en: Crossroads
aliases: [岔路口]
positions:
  - {zh: 左边的路, en: The left road, meaning: {zh: 选这条路会怎样, en: where this road goes}, at: [0, 1]}
  - {zh: 右边的路, en: The right road, meaning: {zh: 另一条路会怎样, en: where the other road goes}, at: [2, 1]}
  - {zh: 你自己, en: Yourself, meaning: 你真正想要的, at: [1, 0]}
"""


def _spread_file(name: str, text: str):
    folder = hearth_home() / "spreads"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _positions(count: int) -> list[dict]:
    return [{"zh": f"位置{n}", "en": f"Place {n}"} for n in range(count)]


def test_a_users_yaml_spread_loads_beside_the_bundled_and_is_drawn_and_read():
    _spread_file("crossroads.yaml", CROSSROADS)
    book = default_spreads()
    assert [s.id for s in book.spreads] == [*(s.id for s in bundled_spreads().spreads), "crossroads"]
    spread = find_spread("岔路口")
    assert (spread.zh, spread.en, len(spread), spread.grid) == ("十字路口", "Crossroads", 3, (3, 2))
    assert spread.positions[2].meaning("en") == "你真正想要的"  # one meaning for both languages
    assert spread.source.endswith("crossroads.yaml")
    layout = draw_cards(spread, random.Random(1))
    assert len({p.drawn.card.id for p in layout.cards}) == 3
    prompt = ReadingRequest("Mel", "Which way?", "crossroads", layout, "en").messages()[0]["content"]
    assert "Spread: Crossroads" in prompt and "1. The left road (where this road goes): " in prompt
    assert cards_given(spread, "XVI, 0, ten of cups").cards[0].drawn.card.en == "The Tower"


def test_a_json_file_may_hold_several_spreads_and_layout_defaults_to_a_row():
    _spread_file("mine.json", json.dumps({"spreads": [
        {"id": "two-paths", "zh": "两条路", "en": "Two paths", "positions": ["甲", "乙"]},
        {"id": "week", "en": "Week ahead", "positions": [{"name": d} for d in ("Mon", "Tue", "Wed")]},
    ]}, ensure_ascii=False))
    week = find_spread("week ahead")
    assert week.zh == "Week ahead" and [p.at for p in week.positions] == [(0, 0), (1, 0), (2, 0)]
    assert [p.en for p in find_spread("两条路").positions] == ["甲", "乙"]


@pytest.mark.parametrize(("text", "field"), [
    ("id: empty\nzh: 空\nen: Empty\npositions: []\n", "'positions' must list at least one position"),
    ("id: big\nzh: 大\nen: Big\npositions: " + json.dumps(_positions(79), ensure_ascii=False) + "\n",
     "'positions' has 79 positions but the deck has only 78 cards"),
    ("id: twice\nzh: 二\nen: Twice\npositions: [{zh: 过去, en: Past}, {zh: 过去, en: Then}]\n",
     "names the position '过去' twice"),
    ("id: stacked\nzh: 叠\nen: Stacked\npositions: [{name: a, at: [0, 0]}, {name: b, at: [0, 0]}]\n",
     "puts two cards at [0, 0]"),
    ("id: badat\nzh: 坏\nen: Bad\npositions: [{name: a, at: [0]}]\n", "'positions[0].at' must be [column, row]"),
    ("id: noname\npositions: [a]\n", "'zh' must be a non-empty string"),
    ("id: clash\nzh: 三张牌\nen: Mine\npositions: [a]\n", "shares a name with 'three-card'"),
    ("id: [unclosed\n", "is not valid YAML"),
])
def test_a_broken_spread_file_is_reported_with_its_path_and_field_and_the_others_still_load(text, field):
    _spread_file("crossroads.yaml", CROSSROADS)
    broken = _spread_file("broken.yaml", text)
    book = default_spreads()
    (problem,) = book.problems
    assert str(broken) in problem and field in problem, problem
    assert "crossroads" in [s.id for s in book.spreads]
    with pytest.raises(UserError, match=r"1 spread file\(s\) did not load"):
        book.find("no such spread")


def test_hearth_tarot_spreads_lists_every_spread_and_what_did_not_load(hearth, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # one table row per spread
    _spread_file("crossroads.yaml", CROSSROADS)
    _spread_file("broken.json", "{not json")
    assert hearth(["tarot", "spreads"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for spread in bundled_spreads().spreads:
        assert spread.id in out
    assert "crossroads" in out and "十字路口 · Crossroads" in out
    assert "not loaded:" in out and "broken.json" in out and "is not valid JSON" in out


def test_drawing_a_users_spread_from_the_cli(hearth, capsys):
    _spread_file("crossroads.yaml", CROSSROADS)
    assert hearth(["tarot", "draw", "--spread", "crossroads", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "左边的路" in out and "你自己" in out
