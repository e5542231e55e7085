"""How a laid-out spread and a stored reading's cards are shown, by the CLI (rich tables) and the app
(tui/widgets/card_table.py, tui/widgets/spread_view.py) alike: one row per position, the card coloured
by its orientation."""

from __future__ import annotations

from rich.text import Text

ORIENTATION_STYLE = {False: "green", True: "red"}


def spread_title(spread, language: str = "zh") -> str:
    """`Three cards · 三张牌`: the spread's name in the reading's language first, the other after it."""
    return f"{spread.name(language)} · {spread.name('en' if language == 'zh' else 'zh')}"


def layout_rows(layout, language: str = "zh") -> list[tuple]:
    """(number, position, card, meaning) per placed card of a spreads.draw.Layout."""
    other = "en" if language == "zh" else "zh"
    return [
        (str(number), Text(placed.position.name(language)),
         Text(f"{placed.drawn.text(language)} {placed.drawn.card.name(other)}",
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

