"""The 78-card deck (spreads/deck.json): each card's names, arcana, suit, number and meanings, and a card
as drawn (upright or reversed). Reading a card the way people type it is spreads/card_parser.py's.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from tuner.formats import card_text

DECK_FILE = Path(__file__).with_name("deck.json")


@dataclass(frozen=True)
class Card:
    id: str
    zh: str
    en: str
    arcana: str  # "major" or "minor"
    suit: str | None  # None for the major arcana; wands, cups, swords, pentacles
    number: int
    aliases: tuple[str, ...]
    upright: str  # meaning when upright (Chinese)
    reversed: str  # meaning when reversed (Chinese)
    upright_en: str = ""  # the same in English; a deck without them shows the Chinese
    reversed_en: str = ""

    @property
    def group(self) -> str:
        """The major arcana or the card's suit: how coverage is summarised."""
        return self.suit or "major"

    def meaning(self, reversed_: bool, language: str = "zh") -> str:
        """The card's meaning in that orientation, in a reading's language ("zh" or "en")."""
        if language == "en":
            return (self.reversed_en or self.reversed) if reversed_ else (self.upright_en or self.upright)
        return self.reversed if reversed_ else self.upright

    def name(self, language: str = "zh") -> str:
        """The card's name in a prompt's language ("zh" or "en")."""
        return self.en if language == "en" else self.zh


@dataclass(frozen=True)
class DrawnCard:
    card: Card
    reversed: bool = False

    def text(self, language: str = "zh") -> str:
        """`愚人(正位)` / `The Fool (upright)`: how a drawn card is written in prompts and training rows."""
        return card_text(self.card.name(language), self.reversed, language)

    @property
    def meaning(self) -> str:
        """The Chinese meaning; card.meaning(reversed, language) gives it in a reading's language."""
        return self.card.meaning(self.reversed)


class Deck:
    def __init__(self, cards: list[Card], source: str = "deck"):
        self.cards = tuple(cards)
        self.source = source
        self._by_id = {card.id: card for card in self.cards}
        if len(self._by_id) != len(self.cards):
            raise ValueError(f"{source}: two cards share an id")

    @classmethod
    def from_file(cls, path: str | Path = DECK_FILE) -> "Deck":
        path = Path(path)
        rows = json.loads(path.read_text(encoding="utf-8"))["cards"]
        return cls([_card(row) for row in rows], source=str(path))

    def __len__(self) -> int:
        return len(self.cards)

    def __iter__(self):
        return iter(self.cards)

    def by_id(self, card_id: str) -> Card | None:
        return self._by_id.get(card_id)


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
        upright_en=row.get("upright_en") or row["upright"],
        reversed_en=row.get("reversed_en") or row["reversed"],
    )


@functools.cache
def default_deck() -> Deck:
    """The bundled deck, read once per process."""
    return Deck.from_file()
