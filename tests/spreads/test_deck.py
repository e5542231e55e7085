"""The deck: finding a card by any of its names, reading drawn cards, and helpful unknown-card errors."""

from __future__ import annotations

import json
import re

import pytest

from hearth.errors import UserError
from spreads.card_parser import find_card, parse_drawn
from spreads.deck import Deck, DrawnCard, default_deck


@pytest.mark.parametrize(
    ("name", "card_id"),
    [
        ("愚人", "major-00"),
        ("愚者", "major-00"),  # alias
        ("塔", "major-16"),
        ("女教皇", "major-02"),
        ("The Fool", "major-00"),
        ("the fool", "major-00"),  # English, any case
        ("FOOL", "major-00"),  # English without "The"
        ("Ten of Pentacles", "pentacles-10"),
        ("金币十", "pentacles-10"),
        ("钱币10", "pentacles-10"),
        ("星币１０", "pentacles-10"),  # full-width digits
        ("major-13", "major-13"),  # id
        ("  圣杯首牌 ", "cups-01"),
        ("宝剑皇后", "swords-13"),
    ],
)
def test_find_accepts_every_name_of_a_card(name, card_id):
    assert find_card(name).id == card_id


def test_empress_and_queen_of_cups_stay_different_cards():
    assert find_card("皇后").id == "major-03"
    assert find_card("圣杯皇后").id == "cups-13"


def test_the_deck_is_read_once_and_holds_78_cards():
    deck = default_deck()
    assert deck is default_deck()
    assert len(deck) == 78
    assert len({card.id for card in deck}) == 78
    assert sum(1 for card in deck if card.group == "major") == 22


def test_unknown_card_names_it_and_suggests_the_closest():
    with pytest.raises(UserError) as caught:
        find_card("星币十一")
    message = str(caught.value)
    assert "'星币十一'" in message
    assert "星币十" in message.split("did you mean")[1]
    with pytest.raises(UserError, match="did you mean The Fool"):
        find_card("The Foool")


def test_unknown_card_with_nothing_close_says_how_cards_are_named():
    with pytest.raises(UserError, match="name it like 愚人"):
        find_card("xyzzy")


@pytest.mark.parametrize(
    ("text", "card_id", "reversed_"),
    [
        ("愚人(正位)", "major-00", False),
        ("愚人（逆位）", "major-00", True),  # full-width brackets
        ("星币十(逆位)", "pentacles-10", True),
        ("The Fool reversed", "major-00", True),
        ("the hanged man (upright)", "major-12", False),
        ("Ace of Cups, Reversed", "cups-01", True),
        ("力量 逆位", "major-08", True),
        ("隐者逆位", "major-09", True),
        ("正义", "major-11", False),  # no orientation: upright (and 正义 is not 正 + 义)
        ("major-21 reversed", "major-21", True),
    ],
)
def test_parse_drawn_reads_the_ways_people_write_a_draw(text, card_id, reversed_):
    drawn = parse_drawn(text)
    assert (drawn.card.id, drawn.reversed) == (card_id, reversed_)


def test_drawn_card_text_is_the_training_data_spelling():
    assert parse_drawn("The Fool reversed").text() == "愚人(逆位)"
    assert parse_drawn("金币十").text() == "星币十(正位)"
    assert DrawnCard(find_card("力量"), True).meaning == find_card("力量").reversed


def test_parse_drawn_with_an_unknown_card_names_the_card_not_the_orientation():
    with pytest.raises(UserError) as caught:
        parse_drawn("愚蠢(逆位)")
    assert "'愚蠢'" in str(caught.value) and "愚" in str(caught.value).split("did you mean")[1]


CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


def test_every_card_has_an_english_meaning_both_ways():
    for card in default_deck():
        for text in (card.upright_en, card.reversed_en):
            assert text.strip() and not CJK.search(text), (card.id, text)
    strength = find_card("力量")
    assert strength.meaning(True, "en") == strength.reversed_en != strength.reversed
    assert strength.meaning(False, "en") == strength.upright_en
    assert strength.meaning(True) == strength.meaning(True, "zh") == strength.reversed


def test_a_deck_file_without_english_meanings_shows_the_chinese(tmp_path):
    row = {"id": "major-00", "zh": "愚人", "en": "The Fool", "arcana": "major", "number": 0,
           "upright": "新的起点", "reversed": "鲁莽冒失"}
    path = tmp_path / "deck.json"
    path.write_text(json.dumps({"cards": [row]}, ensure_ascii=False), encoding="utf-8")
    fool = Deck.from_file(path).by_id("major-00")
    assert (fool.meaning(False, "en"), fool.meaning(True, "en")) == ("新的起点", "鲁莽冒失")


def test_an_english_card_table_shows_the_english_meaning():
    from spreads.draw import cards_given
    from spreads.spread import find_spread
    from tui.tarot_view import layout_rows

    layout = cards_given(find_spread("three-card"), "愚人(正位),力量(逆位),星币十(正位)")
    english = [str(row[3]) for row in layout_rows(layout, "en")]
    assert english == [find_card("愚人").upright_en, find_card("力量").reversed_en, find_card("星币十").upright_en]
    assert [str(row[3]) for row in layout_rows(layout, "zh")] == [p.drawn.card.meaning(p.drawn.reversed) for p in layout.cards]


def test_a_chinese_reading_names_spread_and_cards_in_english_too_and_an_english_one_only_in_english():
    from spreads.draw import cards_given
    from spreads.spread import find_spread
    from tui.tarot_view import layout_rows, spread_title

    spread = find_spread("three-card")
    assert spread_title(spread, "en") == "Three cards"
    assert spread_title(spread, "zh") == "三张牌 · Three cards"
    layout = cards_given(spread, "愚人(正位),力量(逆位),星币十(正位)")
    english, chinese = ([str(row[2]) for row in layout_rows(layout, language)] for language in ("en", "zh"))
    assert english[1] == layout.cards[1].drawn.text("en") and not any("力量" in card for card in english)
    assert chinese[1] == f"{layout.cards[1].drawn.text('zh')} {layout.cards[1].drawn.card.name('en')}"
