"""How a laid-out spread and a stored reading's cards are shown, by the CLI (rich tables) and the app
(tui/widgets/card_table.py, tui/widgets/spread_view.py) alike: one row per position, the card coloured
by its orientation."""

from __future__ import annotations

from rich.text import Text

ORIENTATION_STYLE = {False: "green", True: "red"}


# The name shown beside the reading language's own: Chinese tarot talk names the cards in English too
# ("圣杯六 Six of Cups"); an English reader gets no Chinese beside every card.
SECOND_LANGUAGE = {"zh": "en", "en": None}


def spread_title(spread, language: str = "zh") -> str:
    """`三张牌 · Three cards` for a Chinese reading, `Three cards` for an English one."""
    other = SECOND_LANGUAGE.get(language)
    return f"{spread.name(language)} · {spread.name(other)}" if other else spread.name(language)


def layout_rows(layout, language: str = "zh") -> list[tuple]:
    """(number, position, card, meaning) per placed card of a spreads.draw.Layout."""
    other = SECOND_LANGUAGE.get(language)
    return [
        (str(number), Text(placed.position.name(language)),
         Text(f"{placed.drawn.text(language)} {placed.drawn.card.name(other)}" if other else placed.drawn.text(language),
              style=ORIENTATION_STYLE[placed.drawn.reversed]),
         Text(placed.drawn.card.meaning(placed.drawn.reversed, language)))
        for number, placed in enumerate(layout.cards, start=1)
    ]


def stored_rows(reading) -> list[tuple]:
    """The same rows for a stored reading whose spread or cards the books no longer know: as they were stored."""
    from spreads.reading_rows import card_texts

    return [
        (str(n), Text(card["position"]), Text(text, style=ORIENTATION_STYLE[bool(card["reversed"])]), Text(""))
        for n, (card, text) in enumerate(zip(reading.cards, card_texts(reading)), start=1)
    ]

