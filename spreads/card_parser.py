"""Reading a card the way readers write it, in Chinese or English: `愚人(正位)`, `XVI`, `16 reversed`,
`ten of coins (R)`, `King of Disks Rx`, `2 of swords`, `圣杯侍者`, `十号星币 倒位`, `逆位 审判`, `judgment`.

Every spelling comes from the tables below: the names and aliases of each major arcanum, the words for
each suit and rank, the word orders readers use, and the orientation markers. `CardParser` turns them
into one lookup from a compact key (NFKC, case-folded, spaces and dashes dropped) to a card, so adding a
synonym is one word in a table. A major arcanum may also be written as its number, Arabic or Roman
(Rider-Waite numbering: VIII Strength, XI Justice; the additive `IIII`, `XIIII` of Marseille decks too).

An unknown name is a UserError whose suggestions follow what was typed: a number suggests the cards
with the nearest numbers (`XXII` -> The World), a suit with an impossible rank suggests that suit's
nearest ranks (`星币十一` -> 星币侍从, 星币十), anything else the closest spellings, shown in the
language it was typed in.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata

from hearth.errors import UserError
from hearth.language import text_language
from spreads.deck import Card, Deck, DrawnCard, default_deck

# More names for the major arcana than deck.json's own (zh, en and aliases): variants, other decks' titles.
MAJOR_ALIASES = {
    0: ("愚者", "傻瓜", "fool", "the fool", "le mat"),
    1: ("魔法师", "魔术师", "magician", "the magus", "magus", "juggler", "the juggler"),
    2: ("女教皇", "女祭司长", "high priestess", "priestess", "the papess", "papess", "popess"),
    3: ("女皇", "empress"),
    4: ("emperor",),
    5: ("教宗", "祭司", "hierophant", "the pope", "pope"),
    6: ("恋人们", "lovers", "the lover", "lover"),
    7: ("战车", "chariot"),
    8: ("力", "strength", "fortitude", "lust"),
    9: ("隐者", "hermit"),
    10: ("命运之轮", "幸运之轮", "命运轮", "wheel of fortune", "the wheel of fortune", "the wheel", "wheel", "fortune"),
    11: ("公正", "justice", "adjustment"),
    12: ("吊人", "倒吊者", "hanged man", "the hanged one", "hanged one"),
    13: ("死亡", "death"),
    14: ("节制", "temperance", "art"),
    15: ("魔鬼", "devil"),
    16: ("塔", "塔楼", "tower", "the lightning-struck tower", "maison dieu"),
    17: ("星", "星辰", "star"),
    18: ("月", "moon"),
    19: ("日", "sun"),
    20: ("审判", "最后的审判", "judgement", "judgment", "the judgment", "aeon", "the aeon"),
    21: ("世界", "world", "the universe", "universe"),
}

# suit -> (Chinese words, English words).
SUIT_WORDS = {
    "wands": (("权杖", "棍棒", "权仗", "法杖", "木杖"), ("wands", "wand", "rods", "rod", "staves", "staffs", "staff", "batons", "clubs")),
    "cups": (("圣杯", "杯", "水杯"), ("cups", "cup", "chalices", "chalice", "hearts")),
    "swords": (("宝剑", "剑"), ("swords", "sword", "blades", "spades")),
    "pentacles": (("星币", "金币", "钱币", "五角星", "星盘"), ("pentacles", "pentacle", "coins", "coin", "disks", "disk", "discs", "disc", "diamonds")),
}

# rank (deck.json's number: ace 1 … ten 10, page 11, knight 12, queen 13, king 14) -> (Chinese words, English words).
RANK_WORDS = {
    1: (("王牌", "首牌", "一", "1", "a"), ("ace", "one", "1", "a")),
    2: (("二", "两", "2"), ("two", "2")),
    3: (("三", "3"), ("three", "3")),
    4: (("四", "4"), ("four", "4")),
    5: (("五", "5"), ("five", "5")),
    6: (("六", "6"), ("six", "6")),
    7: (("七", "7"), ("seven", "7")),
    8: (("八", "8"), ("eight", "8")),
    9: (("九", "9"), ("nine", "9")),
    10: (("十", "10"), ("ten", "10")),
    11: (("侍从", "侍者", "侍卫", "公主", "随从"), ("page", "princess", "knave")),
    12: (("骑士", "王子"), ("knight", "prince")),
    13: (("王后", "皇后", "女王"), ("queen",)),
    14: (("国王", "王"), ("king",)),
}

# How a rank and a suit are put together, Chinese and English: 星币十 / 星币的十 / 十星币 / 十号星币;
# Ten of Coins / Coins Ten / Ten Coins. Keys are compact (no spaces), so "ten of coins" is "tenofcoins".
ZH_ORDERS = ("{suit}{rank}", "{suit}的{rank}", "{rank}{suit}", "{rank}号{suit}", "{suit}{rank}号")
EN_ORDERS = ("{rank}of{suit}", "{rank}ofthe{suit}", "{suit}{rank}", "{rank}{suit}")

# Orientation markers -> reversed?  Written before or after the name, bracketed or not.
ORIENTATION_MARKS = {
    "正位": False, "正": False, "正立": False, "upright": False, "up": False, "upr": False,
    "逆位": True, "逆": True, "倒位": True, "倒": True, "倒立": True, "reversed": True, "reverse": True,
    "rev": True, "r": True, "rx": True, "inverted": True, "inv": True,
}
# Chinese markers may touch the name (隐者逆位, 逆位隐者); Latin ones need a space or bracket (so "tower" keeps its r).
_GLUED = [m for m in ORIENTATION_MARKS if text_language(m) == "zh"]
_OPEN, _CLOSE, _SEP = r"[\(\[【<{〔]", r"[\)\]】>}〕]", r"[\s,:;/\-]"


def _alternation(words) -> str:
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))


_MARK, _GLUE = _alternation(ORIENTATION_MARKS), _alternation(_GLUED)
# Each: a name with its orientation marker after or before it.
ORIENTED_FORMS = tuple(re.compile(form, re.IGNORECASE) for form in (
    rf"^(?P<name>.+?)\s*{_OPEN}\s*(?P<mark>{_MARK})\.?\s*{_CLOSE}$",
    rf"^(?P<name>.+?){_SEP}+(?P<mark>{_MARK})\.?$",
    rf"^(?P<name>.+?)(?P<mark>{_GLUE})$",
    rf"^{_OPEN}\s*(?P<mark>{_MARK})\.?\s*{_CLOSE}{_SEP}*(?P<name>.+)$",
    rf"^(?P<mark>{_MARK})\.?{_SEP}+(?P<name>.+)$",
    rf"^(?P<mark>{_GLUE})(?P<name>.+)$",
))

# A major arcanum by number: `16`, `XVI`, `No. 16`, `#16`, `第16号`, `16号牌`. The additive IIII/VIIII are Marseille's.
_ROMAN = re.compile(r"^(?P<tens>x{0,3})(?P<units>ix|iv|v?i{0,4})$")
_ROMAN_UNITS = {"": 0, "i": 1, "ii": 2, "iii": 3, "iiii": 4, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8,
                "viiii": 9, "ix": 9}
_NUMBERED = re.compile(r"^(?:no|number|#|第|major|大阿卡纳|大牌)?(?P<number>\d+|[ivx]+)(?:号牌|号|张)?$")

SUGGESTIONS = 3
SUGGESTION_CUTOFF = 0.4  # Chinese names are 2-5 characters: one wrong character halves the ratio
EXAMPLES = "name it like 愚人, 星币十, 圣杯王后, XVI, The Fool or Ten of Cups reversed"


def compact(text: str) -> str:
    """The lookup key of a spelling: NFKC, case-folded, without spaces, dashes, dots or apostrophes."""
    return re.sub(r"[\s\-_.·・'’]+", "", unicodedata.normalize("NFKC", text).casefold())


def roman_value(text: str) -> int | None:
    match = _ROMAN.match(text)
    if not match or not text:
        return None
    return 10 * len(match.group("tens")) + _ROMAN_UNITS[match.group("units")]


def numeral_value(key: str) -> int | None:
    """The number a compact key writes as a major-arcana numeral, in or out of range; None if it is no numeral."""
    match = _NUMBERED.match(key)
    if not match:
        return None
    number = match.group("number")
    return int(number) if number.isdigit() else roman_value(number)


def minor_spellings(suit_words: tuple[str, ...], rank_words: tuple[str, ...], orders: tuple[str, ...]):
    for order in orders:
        for suit in suit_words:
            for rank in rank_words:
                yield order.format(suit=suit, rank=rank)


class CardParser:
    """Every spelling of every card of one deck, and reading typed cards against it."""

    def __init__(self, deck: Deck):
        self.deck = deck
        self._by_key: dict[str, Card] = {}
        self._majors = {card.number: card for card in deck if card.arcana == "major"}
        self._suits: dict[str, dict[int, Card]] = {}
        for card in deck:
            for name in (card.id, card.zh, card.en, *card.aliases):
                self._add(name, card)
            if card.arcana == "major":
                for name in MAJOR_ALIASES.get(card.number, ()):
                    self._add(name, card)
            else:
                self._suits.setdefault(card.suit, {})[card.number] = card
        for suit, (zh_suits, en_suits) in SUIT_WORDS.items():
            for number, card in self._suits.get(suit, {}).items():
                zh_ranks, en_ranks = RANK_WORDS[number]
                for name in (*minor_spellings(zh_suits, zh_ranks, ZH_ORDERS), *minor_spellings(en_suits, en_ranks, EN_ORDERS)):
                    self._add(name, card)

    def _add(self, name: str, card: Card) -> None:
        for key in {compact(name), compact(re.sub(r"^the\s+", "", name, flags=re.IGNORECASE))}:
            owner = self._by_key.setdefault(key, card)
            if owner is not card:
                raise ValueError(f"{self.deck.source}: the spelling {name!r} fits both {owner.id} and {card.id}")

    @property
    def spellings(self) -> int:
        return len(self._by_key)

    def get(self, name: str) -> Card | None:
        key = compact(name)
        card = self._by_key.get(key) or self._by_key.get(key.removeprefix("the"))
        if card is None and (number := numeral_value(key)) is not None:
            card = self._majors.get(number)
        return card

    def find(self, name: str) -> Card:
        """A card by any of its spellings; a UserError with suggestions when there is none."""
        card = self.get(name)
        if card is None:
            raise UserError(self._unknown_message(name))
        return card

    def parse_drawn(self, text: str) -> DrawnCard:
        """A typed card with an optional orientation before or after it; with none, upright."""
        if not isinstance(text, str) or not text.strip():
            raise UserError(f"a card must be a name like 愚人(正位) or The Fool reversed, got {text!r}")
        flat = " ".join(unicodedata.normalize("NFKC", text).split())
        # The whole text as a name first, so 正义 is Justice and not 正 + 义; then each marker form.
        readings = [(flat, False)]
        for form in ORIENTED_FORMS:
            if match := form.match(flat):
                readings.append((match.group("name").strip(), ORIENTATION_MARKS[match.group("mark").casefold()]))
        for name, reversed_ in readings:
            card = self.get(name)
            if card is not None:
                return DrawnCard(card, reversed_)
        # Unknown: name the card part (an orientation was understood), not the marker.
        raise UserError(self._unknown_message(readings[1][0] if len(readings) > 1 else flat))

    # -- suggestions ----------------------------------------------------------------------------

    def suggestions(self, name: str) -> list[Card]:
        key = compact(name)
        number = numeral_value(key)
        if number is not None:
            return _nearest(self._majors, number)
        suit_rank = self._suit_and_number(key)
        if suit_rank is not None:
            suit, rank = suit_rank
            return _nearest(self._suits[suit], rank)
        close = difflib.get_close_matches(key, self._by_key, n=8 * SUGGESTIONS, cutoff=SUGGESTION_CUTOFF)
        return list(dict.fromkeys(self._by_key[k] for k in close))[:SUGGESTIONS]

    def _suit_and_number(self, key: str) -> tuple[str, int] | None:
        """A suit written with a rank number the suit does not have (`星币十一`, `11 of cups`, `cups 15`)."""
        for suit, (zh_suits, en_suits) in SUIT_WORDS.items():
            if suit not in self._suits:
                continue
            for word in (*zh_suits, *en_suits):
                rest = key.removeprefix(word) if key.startswith(word) else key.removesuffix(word)
                if rest == key:
                    continue
                rest = rest.removeprefix("的").removesuffix("号").removesuffix("of")
                value = int(rest) if rest.isdigit() else _CHINESE_NUMBERS.get(rest)
                if value is not None:
                    return suit, value
        return None

    def _unknown_message(self, name: str) -> str:
        language = text_language(name)
        cards = self.suggestions(name)
        shown = [card.zh if language == "zh" else card.en for card in cards]
        hint = "did you mean " + ", ".join(shown) + "?" if shown else EXAMPLES + " (every name is in spreads/deck.json)"
        return f"unknown tarot card '{name.strip()}'; {hint}"


def _nearest(cards_by_number: dict[int, Card], number: int) -> list[Card]:
    ranked = sorted(cards_by_number.items(), key=lambda item: (abs(item[0] - number), item[0]))
    return [card for _, card in ranked[:SUGGESTIONS]]


# Chinese numbers a reader might write for an impossible rank (十一 … 二十), for suggestions only.
_CHINESE_DIGITS = "一二三四五六七八九"
_CHINESE_NUMBERS = {
    **{digit: i for i, digit in enumerate(_CHINESE_DIGITS, start=1)},
    "十": 10,
    **{f"十{digit}": 10 + i for i, digit in enumerate(_CHINESE_DIGITS, start=1)},
    "二十": 20,
}


@functools.lru_cache(maxsize=8)
def _parser_of(deck: Deck) -> CardParser:
    return CardParser(deck)


def card_parser(deck: Deck | None = None) -> CardParser:
    """The parser of a deck (the bundled one by default), built once per deck."""
    return _parser_of(deck if deck is not None else default_deck())


def find_card(name: str, deck: Deck | None = None) -> Card:
    return card_parser(deck).find(name)


def parse_drawn(text: str, deck: Deck | None = None) -> DrawnCard:
    return card_parser(deck).parse_drawn(text)
