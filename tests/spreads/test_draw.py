"""Draws: distinct cards, seeded, orientations by probability; the user's own cards checked."""

from __future__ import annotations

import random

import pytest

from hearth.errors import UserError
from spreads.draw import cards_given, draw_cards
from spreads.spread import find_spread


def test_a_draw_fills_every_position_with_distinct_cards():
    spread = find_spread("celtic-cross")
    for seed in range(30):
        layout = draw_cards(spread, random.Random(seed))
        ids = [placed.drawn.card.id for placed in layout.cards]
        assert len(ids) == 10 and len(set(ids)) == 10
        assert [placed.position for placed in layout.cards] == list(spread.positions)


def test_the_same_seed_draws_the_same_cards_and_other_seeds_differ():
    spread = find_spread("horseshoe")
    first = draw_cards(spread, random.Random(42)).texts()
    assert draw_cards(spread, random.Random(42)).texts() == first
    assert any(draw_cards(spread, random.Random(seed)).texts() != first for seed in range(43, 48))


def test_reversed_probability_sets_the_orientations():
    spread = find_spread("celtic-cross")
    assert not any(p.drawn.reversed for p in draw_cards(spread, random.Random(1), reversed_probability=0.0).cards)
    assert all(p.drawn.reversed for p in draw_cards(spread, random.Random(1), reversed_probability=1.0).cards)
    draws = [p.drawn.reversed for seed in range(200) for p in draw_cards(find_spread("single"), random.Random(seed)).cards]
    assert 60 < sum(draws) < 140  # about half, by default
    with pytest.raises(UserError, match="between 0 and 1"):
        draw_cards(spread, reversed_probability=1.5)


def test_the_users_own_cards_are_placed_in_order():
    layout = cards_given(find_spread("three-card"), "愚人(正位)，力量(逆位)、The Ten of Pentacles reversed")
    assert layout.texts() == ["愚人(正位)", "力量(逆位)", "星币十(逆位)"]
    assert [{k: row[k] for k in ("position", "card", "reversed")} for row in layout.rows()] == [
        {"position": "过去", "card": "愚人", "reversed": False},
        {"position": "现在", "card": "力量", "reversed": True},
        {"position": "未来", "card": "星币十", "reversed": True},
    ]
    assert layout.rows("en")[2] == {"position": "Future", "meaning": "where the present path leads",
                                    "card": "Ten of Pentacles", "reversed": True}


def test_the_wrong_number_of_cards_is_refused_naming_the_positions():
    with pytest.raises(UserError) as caught:
        cards_given(find_spread("three-card"), "愚人(正位),力量(逆位)")
    assert "3 position(s)" in str(caught.value) and "过去、现在、未来" in str(caught.value)
    assert "2 card(s)" in str(caught.value)


def test_a_card_given_twice_is_refused_even_under_another_name():
    with pytest.raises(UserError, match="愚人 is given twice"):
        cards_given(find_spread("three-card"), ["愚人(正位)", "力量", "The Fool reversed"])


def test_an_unknown_given_card_is_refused():
    with pytest.raises(UserError, match="unknown tarot card '魔法少女'"):
        cards_given(find_spread("single"), "魔法少女(正位)")
