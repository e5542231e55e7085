"""Which cards a readings dataset (JSONL in the tarot row format) teaches, and which it never shows.

A model fine-tuned on readings only learns the cards it has seen read: this counts every
card × orientation, lists the cards that never appear (and those seen only one way up), and flags
card names it cannot read, with file and line, so they can be fixed before training.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hearth.errors import UserError
from hearth.jsonl import read_lines
from spreads.card_parser import CardParser, card_parser
from spreads.deck import Card, Deck, DrawnCard, default_deck
from spreads.draw import split_card_list

GROUP_ORDER = ("major", "wands", "cups", "swords", "pentacles")


@dataclass(frozen=True)
class Problem:
    where: str  # file:line
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class GroupSummary:
    group: str
    cards: int
    seen: int
    upright: int  # upright draws of the group's cards
    reversed: int


@dataclass
class Coverage:
    deck: Deck
    counts: Counter = field(default_factory=Counter)  # (card id, reversed) -> times seen
    readings: int = 0
    problems: list[Problem] = field(default_factory=list)

    def count(self, card: Card, reversed_: bool) -> int:
        return self.counts[(card.id, reversed_)]

    def seen(self, card: Card) -> bool:
        return self.count(card, False) + self.count(card, True) > 0

    @property
    def draws(self) -> int:
        return sum(self.counts.values())

    def missing_cards(self) -> list[Card]:
        """Cards that never appear, either way up."""
        return [card for card in self.deck if not self.seen(card)]

    def only_one_way(self, reversed_: bool) -> list[Card]:
        """Cards seen, but never in this orientation."""
        return [card for card in self.deck if self.seen(card) and not self.count(card, reversed_)]

    def missing_combinations(self) -> int:
        return len(self.gaps())

    def gaps(self) -> list[DrawnCard]:
        """Every card × orientation never seen, in deck order."""
        return [DrawnCard(card, way) for card in self.deck for way in (False, True) if not self.count(card, way)]

    def by_group(self) -> list[GroupSummary]:
        groups = {name: GroupSummary(name, 0, 0, 0, 0) for name in GROUP_ORDER}
        for card in self.deck:
            summary = groups.setdefault(card.group, GroupSummary(card.group, 0, 0, 0, 0))
            summary.cards += 1
            summary.seen += self.seen(card)
            summary.upright += self.count(card, False)
            summary.reversed += self.count(card, True)
        return [g for g in groups.values() if g.cards]


def _drawn(parser: CardParser, entry) -> DrawnCard:
    """A card as the tarot format writes it: `愚人(正位)` or {"card": "愚人", "reversed": true}."""
    if isinstance(entry, dict) and isinstance(entry.get("card"), str):
        return DrawnCard(parser.find(entry["card"]), bool(entry.get("reversed")))
    if isinstance(entry, str):
        return parser.parse_drawn(entry)
    raise UserError(f"a card must be a name like 愚人(正位) or {{\"card\": …, \"reversed\": …}}, got {entry!r}")


def _add_row(coverage: Coverage, row, where: str) -> None:
    cards = row.get("cards") if isinstance(row, dict) else None
    if isinstance(cards, str):
        cards = split_card_list(cards)
    if not isinstance(cards, list) or not cards:
        coverage.problems.append(Problem(where, "no 'cards' list in this row (expected the tarot format)"))
        return
    coverage.readings += 1
    for entry in cards:
        try:
            drawn = _drawn(card_parser(coverage.deck), entry)
        except UserError as exc:
            coverage.problems.append(Problem(where, str(exc)))
            continue
        coverage.counts[(drawn.card.id, drawn.reversed)] += 1


def stored_coverage(store, deck: Deck | None = None) -> Coverage:
    """Count every card × orientation in the readings stored in the history (companion.readings.ReadingStore)."""
    from spreads.reading_rows import training_row

    coverage = Coverage(deck or default_deck())
    for reading in store.list(oldest_first=True):
        _add_row(coverage, training_row(reading), f"reading #{reading.id}")
    return coverage


def card_coverage(paths: list[str | Path], deck: Deck | None = None) -> Coverage:
    """Count every card × orientation in the given JSONL files."""
    if not paths:
        raise UserError("no readings files given; name one or more .jsonl files in the tarot format")
    coverage = Coverage(deck or default_deck())
    for path in paths:
        for line in read_lines(path, what="readings file"):
            if line.problem is not None:
                coverage.problems.append(Problem(line.where, line.problem))
            else:
                _add_row(coverage, line.row, line.where)
    return coverage
