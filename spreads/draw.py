"""A spread laid out: one card per position, drawn here from a shuffled deck or named by the user
(who drew physical cards)."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from hearth.errors import UserError
from spreads.card_parser import card_parser
from spreads.deck import Deck, DrawnCard, default_deck
from spreads.spread import Position, Spread

DEFAULT_REVERSED_PROBABILITY = 0.5
# Between cards in a typed list: ASCII and full-width commas, the enumeration comma, semicolons.
CARD_SEPARATORS = re.compile(r"[,，、;；\n]")


@dataclass(frozen=True)
class PlacedCard:
    position: Position
    drawn: DrawnCard

    def as_row(self, language: str = "zh") -> dict:
        """How a reading stores it, as plain data in the prompt's language: {position, meaning, card, reversed}."""
        return {"position": self.position.name(language), "meaning": self.position.meaning(language),
                "card": self.drawn.card.name(language), "reversed": self.drawn.reversed}


@dataclass(frozen=True)
class Layout:
    spread: Spread
    cards: tuple[PlacedCard, ...]

    def texts(self, language: str = "zh") -> list[str]:
        """`["愚人(正位)", …]` in position order, as the reading prompt lists them."""
        return [placed.drawn.text(language) for placed in self.cards]

    def positions(self, language: str = "zh") -> list[dict]:
        """[{name, meaning}] in order: the `positions` of a tarot row."""
        return [{"name": p.position.name(language), "meaning": p.position.meaning(language)} for p in self.cards]

    def rows(self, language: str = "zh") -> list[dict]:
        return [placed.as_row(language) for placed in self.cards]


def check_reversed_probability(probability: float) -> float:
    if not 0.0 <= probability <= 1.0:
        raise UserError(f"the reversed probability must be between 0 and 1, got {probability}")
    return probability


def place_cards(spread: Spread, drawn: list[DrawnCard]) -> Layout:
    """The cards in the spread's positions, in order."""
    return Layout(spread, tuple(PlacedCard(position, card) for position, card in zip(spread.positions, drawn)))


def draw_cards(
    spread: Spread,
    rng: random.Random | None = None,
    reversed_probability: float = DEFAULT_REVERSED_PROBABILITY,
    deck: Deck | None = None,
) -> Layout:
    """Distinct cards for every position, each reversed with the given probability."""
    check_reversed_probability(reversed_probability)
    rng = rng or random.Random()
    deck = deck or default_deck()
    if len(spread) > len(deck):
        raise UserError(f"the spread {spread.id} needs {len(spread)} cards but the deck has only {len(deck)}")
    cards = rng.sample(deck.cards, len(spread))
    return place_cards(spread, [DrawnCard(card, rng.random() < reversed_probability) for card in cards])


def split_card_list(text: str) -> list[str]:
    return [part.strip() for part in CARD_SEPARATORS.split(text) if part.strip()]


def cards_given(spread: Spread, cards: str | list[str], deck: Deck | None = None) -> Layout:
    """The user's own draw, `"愚人(正位),力量(逆位),…"` or a list, checked against the spread."""
    parser = card_parser(deck)
    texts = split_card_list(cards) if isinstance(cards, str) else [c for c in cards if c.strip()]
    if len(texts) != len(spread):
        raise UserError(
            f"the spread {spread.id} ({spread.zh}) has {len(spread)} position(s) "
            f"({'、'.join(p.zh for p in spread.positions)}) but {len(texts)} card(s) were given; "
            "give one card per position, separated by commas"
        )
    drawn = [parser.parse_drawn(text) for text in texts]
    seen: dict[str, str] = {}
    for text, card in zip(texts, drawn):
        if card.card.id in seen:
            raise UserError(f"the card {card.card.zh} is given twice ('{seen[card.card.id]}' and '{text}'); a deck holds each card once")
        seen[card.card.id] = text
    return place_cards(spread, drawn)
