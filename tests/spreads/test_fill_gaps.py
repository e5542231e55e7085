"""Coverage-driven collection: `hearth tarot coverage` lists what your readings never show (files or the
stored readings), and `hearth tarot draw --fill-gaps` deals a practice spread made of those gaps first."""

from __future__ import annotations

import json
import random
from pathlib import Path

from companion.readings import ReadingStore
from spreads.card_parser import find_card
from spreads.coverage import Coverage, card_coverage, stored_coverage
from spreads.deck import default_deck
from spreads.gaps import fill_gaps
from spreads.spread import find_spread

SAMPLE = Path(__file__).resolve().parents[2] / "spreads" / "readings-sample.jsonl"


def _seen_all_but(*missing: tuple[str, bool]) -> Coverage:
    """A coverage that has seen every card both ways except the given (card, reversed) pairs."""
    coverage = Coverage(default_deck())
    for card in default_deck():
        for way in (False, True):
            coverage.counts[(card.id, way)] = 1
    for name, way in missing:
        del coverage.counts[(find_card(name).id, way)]
    return coverage


def test_the_gaps_are_dealt_first_and_the_rest_is_an_ordinary_draw():
    coverage = _seen_all_but(("愚人", True), ("塔", True), ("塔", False), ("星币十", False))
    drawn = fill_gaps(find_spread("celtic-cross"), coverage, random.Random(4))
    assert drawn.gaps_left == 4
    # 塔 was never seen either way, so it is dealt once; 愚人 and 星币十 the way they were never seen.
    assert {(d.card.zh, d.reversed) for d in drawn.filled} >= {("愚人", True), ("星币十", False)}
    assert {d.card.zh for d in drawn.filled} == {"愚人", "高塔", "星币十"}
    cards = [p.drawn for p in drawn.layout.cards]
    assert len(cards) == 10 and len({d.card.id for d in cards}) == 10
    assert set(drawn.filled) <= set(cards)


def test_never_seen_cards_come_before_cards_seen_one_way():
    coverage = _seen_all_but(("愚人", True), ("月亮", True), ("月亮", False), ("太阳", True), ("太阳", False))
    for seed in range(5):
        drawn = fill_gaps(find_spread("single"), coverage, random.Random(seed))
        assert drawn.filled[0].card.zh in ("月亮", "太阳")


def test_repeated_gap_spreads_cover_the_sample_readings_gaps():
    coverage = card_coverage([SAMPLE])
    start = coverage.missing_combinations()
    assert start > 0
    rng = random.Random(0)
    spreads = 0
    while coverage.missing_combinations() and spreads < 20:
        for drawn in fill_gaps(find_spread("celtic-cross"), coverage, rng).layout.cards:
            coverage.counts[(drawn.drawn.card.id, drawn.drawn.reversed)] += 1  # read it
        spreads += 1
    assert coverage.missing_combinations() == 0 and spreads <= -(-start // 10) + 1


def test_stored_readings_have_a_coverage_too():
    with ReadingStore() as store:
        store.add(person="Mel", question="q？", spread="三张牌", reading="r", context={"language": "en"},
                  cards=[{"position": "Past", "card": "The Fool", "reversed": True},
                         {"position": "Present", "card": "Strength", "reversed": False},
                         {"position": "Future", "card": "Ten of Pentacles", "reversed": False}])
        coverage = stored_coverage(store)
    assert coverage.readings == 1 and coverage.problems == []
    assert coverage.count(find_card("愚人"), True) == 1 and coverage.missing_combinations() == 156 - 3


def test_cli_coverage_of_stored_readings_and_a_gap_draw_from_a_file(hearth, capsys, tmp_path):
    with ReadingStore() as store:
        store.add(person="Mel", question="q？", spread="单张牌", reading="r",
                  cards=[{"position": "指引", "card": "愚人", "reversed": False}])
    assert hearth(["tarot", "coverage"]) == 0
    out = capsys.readouterr().out
    assert "stored readings" in out and "1 of 78 cards seen" in out

    few = tmp_path / "few.jsonl"
    seen = [card for card in default_deck() if card.zh != "月亮"]
    few.write_text("".join(json.dumps({"person": "M", "question": "q", "spread": "单张牌", "reading": "r",
                                       "cards": [f"{c.zh}(正位)", f"{c.zh}(逆位)"]}, ensure_ascii=False) + "\n"
                           for c in seen), encoding="utf-8")
    assert hearth(["tarot", "draw", "--spread", "single", "--fill-gaps", "--from", str(few), "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 card × orientation pair(s) never seen" in out and "this spread deals 1: 月亮" in out
    assert '--cards "月亮(' in out
