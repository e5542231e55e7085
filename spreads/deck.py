"""The 78-card deck (spreads/deck.json), and reading a card the way people write it:
`愚人(正位)`, `愚者 逆位`, `星币十（逆位）`, `The Fool reversed`, `major-00`.

Names are matched after Unicode NFKC (full-width brackets and digits become ASCII), case folding
and collapsing spaces; English names may drop their leading "The". An unknown name is a UserError
that suggests the closest real names.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from hearth.errors import UserError

DECK_FILE = Path(__file__).with_name("deck.json")

# How an orientation is written, as it appears in the training data (`愚人(正位)`): reversed? -> text.
ORIENTATION_TEXT = {False: "正位", True: "逆位"}
# Every accepted way of writing an orientation after a card name -> reversed?
ORIENTATION_WORDS = {
    "正位": False, "正": False, "upright": False, "up": False,
    "逆位": True, "逆": True, "reversed": True, "reverse": True, "rev": True,
}
# `NAME(ORIENTATION)` or `NAME ORIENTATION` / `NAME, ORIENTATION` / `NAME逆位` (after normalising).
_WORDS = "|".join(sorted(map(re.escape, ORIENTATION_WORDS), key=len, reverse=True))
_ORIENTED = re.compile(
    rf"^(?P<name>.+?)\s*(?:\((?P<bracketed>{_WORDS})\)|[\s,]*(?P<plain>{_WORDS}))$", re.IGNORECASE
)
_LEADING_THE = re.compile(r"^the\s+")
SUGGESTIONS = 3
SUGGESTION_CUTOFF = 0.4  # Chinese names are 2-5 characters: one wrong character halves the ratio


def normalise(text: str) -> str:
    """The lookup key of a name: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def card_text(name: str, reversed_: bool) -> str:
    """`愚人(正位)`: how a drawn card is written in prompts, readings and training rows."""
    return f"{name}({ORIENTATION_TEXT[bool(reversed_)]})"


@dataclass(frozen=True)
class Card:
    id: str
    zh: str
    en: str
    arcana: str  # "major" or "minor"
    suit: str | None  # None for the major arcana; wands, cups, swords, pentacles
    number: int
    aliases: tuple[str, ...]
    upright: str  # meaning when upright
    reversed: str  # meaning when reversed

    @property
    def group(self) -> str:
        """The major arcana or the card's suit: how coverage is summarised."""
        return self.suit or "major"

    def meaning(self, reversed_: bool) -> str:
        return self.reversed if reversed_ else self.upright

    def names(self) -> tuple[str, ...]:
        return (self.zh, *self.aliases, self.en, self.id)


@dataclass(frozen=True)
class DrawnCard:
    card: Card
    reversed: bool = False

    def text(self) -> str:
        return card_text(self.card.zh, self.reversed)

    @property
    def meaning(self) -> str:
        return self.card.meaning(self.reversed)


class Deck:
    def __init__(self, cards: list[Card], source: str = "deck"):
        self.cards = tuple(cards)
        self.source = source
        self._by_key: dict[str, Card] = {}
        self._display: dict[str, str] = {}  # lookup key -> the name as written, for suggestions
        for card in self.cards:
            for name in card.names():
                self._add_name(name, card)
            if card.en.lower().startswith("the "):
                self._add_name(card.en[4:], card)

    def _add_name(self, name: str, card: Card) -> None:
        key = normalise(name)
        owner = self._by_key.setdefault(key, card)
        if owner is not card:
            raise ValueError(f"{self.source}: the name {name!r} is used by both {owner.id} and {card.id}")
        self._display.setdefault(key, name)

    @classmethod
    def from_file(cls, path: str | Path = DECK_FILE) -> "Deck":
        path = Path(path)
        rows = json.loads(path.read_text(encoding="utf-8"))["cards"]
        return cls([_card(row) for row in rows], source=str(path))

    def __len__(self) -> int:
        return len(self.cards)

    def __iter__(self):
        return iter(self.cards)

    def get(self, name: str) -> Card | None:
        key = normalise(name)
        return self._by_key.get(key) or self._by_key.get(_LEADING_THE.sub("", key))

    def find(self, name: str) -> Card:
        """A card by its Chinese name, an alias, its English name (any case) or its id."""
        card = self.get(name)
        if card is None:
            raise UserError(self._unknown_message(name))
        return card

    def _unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(normalise(name), self._display, n=4 * SUGGESTIONS, cutoff=SUGGESTION_CUTOFF)
        one_name_per_card = {}
        for key in close:
            one_name_per_card.setdefault(self._by_key[key].id, self._display[key])
        suggestions = list(one_name_per_card.values())[:SUGGESTIONS]
        hint = (
            "did you mean " + ", ".join(suggestions) + "?"
            if suggestions
            else "name it like 愚人, 星币十, 圣杯王后 or The Fool (every name is in spreads/deck.json)"
        )
        return f"unknown tarot card '{name.strip()}'; {hint}"

    def parse_drawn(self, text: str) -> DrawnCard:
        """`愚人(正位)`, `The Fool reversed`, `星币十（逆位）`; with no orientation, upright."""
        if not isinstance(text, str) or not text.strip():
            raise UserError(f"a card must be a name like 愚人(正位), got {text!r}")
        flat = unicodedata.normalize("NFKC", text).strip()
        match = _ORIENTED.match(flat)
        # A name that is itself a card wins over reading its tail as an orientation.
        if match and self.get(flat) is None:
            word = match.group("bracketed") or match.group("plain")
            return DrawnCard(self.find(match.group("name")), ORIENTATION_WORDS[word.casefold()])
        return DrawnCard(self.find(flat), False)


def _card(row: dict) -> Card:
    return Card(
        id=row["id"],
        zh=row["zh"],
        en=row["en"],
        arcana=row["arcana"],
        suit=row.get("suit"),
        number=int(row["number"]),
        aliases=tuple(row.get("aliases", ())),
        upright=row["upright"],
        reversed=row["reversed"],
    )


@functools.cache
def default_deck() -> Deck:
    """The bundled deck, read once per process."""
    return Deck.from_file()


def find_card(name: str) -> Card:
    return default_deck().find(name)


def parse_drawn(text: str) -> DrawnCard:
    return default_deck().parse_drawn(text)
