"""Typed cards: every way readers write a card, in Chinese and English, reads as the right card and
orientation; unknown names are answered with suggestions that follow what was typed."""

from __future__ import annotations

import pytest

from hearth.errors import UserError
from spreads.card_parser import (
    MAJOR_ALIASES, ORIENTATION_MARKS, RANK_WORDS, SUIT_WORDS, CardParser, card_parser, parse_drawn, roman_value,
)
from spreads.deck import Card, Deck, default_deck

U, R = False, True
# (typed, card id, reversed): both languages, every suit and its synonyms, every court and its synonyms,
# majors by name, alias, Arabic and Roman numeral, either word order, markers before and after.
SPELLINGS = [
    # majors by numeral
    ("XVI", "major-16", U), ("16", "major-16", U), ("0", "major-00", U), ("XXI", "major-21", U),
    ("IV", "major-04", U), ("XIIII", "major-14", U), ("XIX reversed", "major-19", R), ("No. 13", "major-13", U),
    ("16号牌 逆位", "major-16", R), ("VIII", "major-08", U), ("xi (r)", "major-11", R), ("第0号", "major-00", U),
    # majors by name and variant
    ("judgment", "major-20", U), ("Judgement", "major-20", U), ("The Hanged Man", "major-12", U),
    ("hanged man rx", "major-12", R), ("wheel of fortune", "major-10", U), ("幸运之轮", "major-10", U),
    ("高塔", "major-16", U), ("塔", "major-16", U), ("The Lovers", "major-06", U), ("女教皇", "major-02", U),
    ("正义", "major-11", U), ("逆位正义", "major-11", R), ("隐者逆", "major-09", R), ("倒吊人", "major-12", U),
    ("倒吊人(倒位)", "major-12", R), ("死神", "major-13", U), ("The Star (R)", "major-17", R),
    # pentacles and its synonyms, zh and en, both orders
    ("ten of coins", "pentacles-10", U), ("King of Disks", "pentacles-14", U), ("十号星币", "pentacles-10", U),
    ("十星币", "pentacles-10", U), ("金币十", "pentacles-10", U), ("钱币10", "pentacles-10", U),
    ("五角星三", "pentacles-03", U), ("Ace of Pentacles", "pentacles-01", U), ("Coins Ace", "pentacles-01", U),
    ("Queen of Discs Rx", "pentacles-13", R), ("星币侍者", "pentacles-11", U), ("Princess of Disks", "pentacles-11", U),
    # wands
    ("权杖三", "wands-03", U), ("棍棒七", "wands-07", U), ("3 of Rods", "wands-03", U), ("Seven of Staves", "wands-07", U),
    ("Knight of Wands", "wands-12", U), ("权杖王子", "wands-12", U), ("Prince of Wands reversed", "wands-12", R),
    ("权杖国王 正位", "wands-14", U),
    # cups
    ("2 of cups", "cups-02", U), ("Two of Chalices", "cups-02", U), ("圣杯侍者", "cups-11", U), ("圣杯公主", "cups-11", U),
    ("圣杯皇后", "cups-13", U), ("Queen of Cups (reversed)", "cups-13", R), ("圣杯骑士(逆位)", "cups-12", R),
    ("cups nine", "cups-09", U),
    # swords
    ("2 of swords", "swords-02", U), ("宝剑十", "swords-10", U), ("Page of Swords", "swords-11", U),
    ("宝剑侍卫", "swords-11", U), ("十号宝剑 倒位", "swords-10", R), ("King of Swords, rev", "swords-14", R),
    # orientation markers, before and after, bracketed or not, full-width
    ("愚人(正位)", "major-00", U), ("愚人（逆位）", "major-00", R), ("愚人 倒", "major-00", R), ("倒位 愚人", "major-00", R),
    ("[R] The Fool", "major-00", R), ("reversed: The Fool", "major-00", R), ("The Fool - upright", "major-00", U),
    ("【逆位】月亮", "major-18", R), ("太阳【正位】", "major-19", U), ("The Sun R", "major-19", R),
    ("the tower", "major-16", U),  # ends in "r" without being reversed
]


@pytest.mark.parametrize(("typed", "card_id", "reversed_"), SPELLINGS)
def test_every_spelling_reads_as_its_card_and_orientation(typed, card_id, reversed_):
    drawn = parse_drawn(typed)
    assert (drawn.card.id, drawn.reversed) == (card_id, reversed_)


def test_the_spelling_table_covers_what_the_issue_asks_for():
    assert len(SPELLINGS) >= 60
    ids = {card_id for _, card_id, _ in SPELLINGS}
    assert {card_id.split("-")[0] for card_id in ids} == {"major", "wands", "cups", "swords", "pentacles"}
    assert {R, U} == {reversed_ for _, _, reversed_ in SPELLINGS}
    assert any(roman_value(typed.split()[0].casefold()) for typed, _, _ in SPELLINGS)


def test_every_card_reads_back_from_its_own_names_in_both_languages():
    parser = card_parser()
    for card in default_deck():
        for language in ("zh", "en"):
            for reversed_ in (False, True):
                drawn = parser.parse_drawn(f"{card.name(language)} {'reversed' if reversed_ else 'upright'}")
                assert (drawn.card, drawn.reversed) == (card, reversed_)


def test_every_suit_and_rank_word_spells_its_card():
    parser = card_parser()
    for suit, (zh_suits, en_suits) in SUIT_WORDS.items():
        for number, (zh_ranks, en_ranks) in RANK_WORDS.items():
            expected = f"{suit}-{number:02d}"
            for typed in (*(s + r for s in zh_suits for r in zh_ranks), *(f"{r} of {s}" for s in en_suits for r in en_ranks)):
                assert parser.get(typed).id == expected, typed


def test_a_major_numeral_is_its_number_not_the_closest_spelling():
    assert parse_drawn("XVI").card.en == "The Tower"  # was "did you mean Devil?" (XV)
    assert parse_drawn("XV").card.en == "The Devil"
    for number in range(22):
        assert parse_drawn(str(number)).card.number == number


def test_unknown_numerals_suggest_by_number():
    with pytest.raises(UserError, match=r"'XXII'; did you mean The World, Judgement"):
        parse_drawn("XXII")
    with pytest.raises(UserError, match=r"did you mean Page of Cups"):
        parse_drawn("11 of cups reversed")


def test_unknown_names_suggest_the_intended_card_in_the_language_typed():
    for typed, intended in [("The Foool", "The Fool"), ("Kngi of Cups", "King of Cups"), ("星币十一", "星币十"),
                            ("愚蠢(逆位)", "愚人"), ("Temperence", "Temperance"), ("宝剑国玉", "宝剑国王")]:
        with pytest.raises(UserError) as caught:
            parse_drawn(typed)
        message = str(caught.value)
        assert intended in message.split("did you mean", 1)[1], message


def test_an_unknown_card_is_named_without_its_orientation():
    with pytest.raises(UserError, match=r"unknown tarot card '愚蠢';"):
        parse_drawn("愚蠢（逆位）")


def test_nothing_close_says_how_cards_are_named():
    with pytest.raises(UserError, match="name it like 愚人"):
        parse_drawn("xyzzy")
    with pytest.raises(UserError, match="a card must be a name"):
        parse_drawn("  ")


def test_markers_and_aliases_come_from_the_tables():
    assert ORIENTATION_MARKS["倒位"] is True and ORIENTATION_MARKS["rx"] is True
    assert "judgment" in MAJOR_ALIASES[20]
    # A synonym added to a table is a new spelling, with nothing else to change.
    fool = default_deck().cards[0]
    deck = Deck([Card(**{**fool.__dict__, "aliases": ("疯子",)})], source="test deck")
    assert CardParser(deck).parse_drawn("疯子 倒").card.id == "major-00"


def test_a_spelling_shared_by_two_cards_is_refused_when_the_deck_loads():
    fool, magician = default_deck().cards[:2]
    deck = Deck([fool, Card(**{**magician.__dict__, "aliases": ("愚人",)})], source="bad deck")
    with pytest.raises(ValueError, match="bad deck: the spelling '愚人' fits both major-00 and major-01"):
        CardParser(deck)
