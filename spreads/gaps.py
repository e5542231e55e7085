"""A practice spread that fills the gaps (`hearth tarot draw --fill-gaps`): the cards and orientations a
readings collection never shows are dealt first, so the readings a reader collects come to cover the deck.

Cards never seen either way up come first, then those seen only one way (dealt the other way up), each
group in a seeded random order; when fewer gaps remain than the spread has positions, the rest of the
spread is an ordinary draw from the other cards. The gap cards are scattered over the positions, so no
position always gets the rarest card.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from spreads.coverage import Coverage
from spreads.deck import DrawnCard
from spreads.draw import DEFAULT_REVERSED_PROBABILITY, Layout, check_reversed_probability, place_cards
from spreads.spread import Spread


@dataclass(frozen=True)
class GapDraw:
    layout: Layout
    filled: tuple[DrawnCard, ...]  # the gaps this spread deals
    gaps_left: int  # card × orientation pairs still never seen, before this spread is read


def fill_gaps(spread: Spread, coverage: Coverage, rng: random.Random | None = None,
              reversed_probability: float = DEFAULT_REVERSED_PROBABILITY) -> GapDraw:
    check_reversed_probability(reversed_probability)
    rng = rng or random.Random()
    gaps = coverage.gaps()
    unseen = [gap for gap in gaps if not coverage.seen(gap.card)]
    one_way = [gap for gap in gaps if coverage.seen(gap.card)]
    for group in (unseen, one_way):
        rng.shuffle(group)
    chosen: dict[str, DrawnCard] = {}
    for gap in (*unseen, *one_way):  # a card never seen is dealt once, one way up
        if len(chosen) == len(spread):
            break
        chosen.setdefault(gap.card.id, gap)
    filled = list(chosen.values())
    others = [card for card in coverage.deck if card.id not in chosen]
    extra = rng.sample(others, len(spread) - len(filled))
    drawn = filled + [DrawnCard(card, rng.random() < reversed_probability) for card in extra]
    rng.shuffle(drawn)
    return GapDraw(place_cards(spread, drawn), tuple(filled), len(gaps))
