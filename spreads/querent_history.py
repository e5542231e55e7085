"""The querent's history: a person's earlier readings as a short block of the prompt (dates, spreads,
questions, cards, ratings), so a reader can say "last month the Tower came up for you too".

Off by default (`hearth tarot read --history`, the app's history switch). Budgeted: the newest readings
first, at most HISTORY_READINGS of them and about HISTORY_CHARS characters in all, questions shortened.
The block is plain data in the reading's row; the reading keeps it (its context) and its training row
carries it, so the model trains on the block it was given. Cards and spread names are written in the
prompt's language, whatever language the earlier reading was in.
"""

from __future__ import annotations

import json
from datetime import datetime

from hearth.errors import UserError
from spreads.card_parser import card_parser
from spreads.reading_rows import card_texts
from spreads.spread import default_spreads
from tuner.formats import card_text

HISTORY_READINGS = 3
HISTORY_CHARS = 600
QUESTION_CHARS = 60
ANONYMOUS = ("匿名", "anonymous", "")  # people whose readings are nobody's history


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cards(reading, language: str) -> list[str]:
    parser = card_parser()
    texts = []
    for card, stored in zip(reading.cards, card_texts(reading)):
        known = parser.get(card["card"])
        texts.append(card_text(known.name(language), card["reversed"], language) if known else stored)
    return texts


def _spread(reading, language: str) -> str:
    try:
        return default_spreads().find(reading.spread).name(language)
    except UserError:
        return reading.spread  # a spread no longer defined: as it was written


def history_entry(reading, language: str) -> dict:
    entry = {
        "date": datetime.fromtimestamp(reading.created).strftime("%Y-%m-%d"),
        "spread": _spread(reading, language),
        "question": _shorten(reading.question, QUESTION_CHARS),
        "cards": _cards(reading, language),
    }
    if reading.rating:
        entry["rating"] = reading.rating
    return entry


def querent_history(store, person: str, language: str, limit: int = HISTORY_READINGS,
                    budget: int = HISTORY_CHARS) -> tuple[dict, ...]:
    """The person's earlier readings (companion.readings.ReadingStore), newest first, within the budget."""
    if person.strip().casefold() in ANONYMOUS:
        return ()
    entries, used = [], 0
    for reading in store.list(person=person, limit=limit):
        if not reading.reading.strip():
            continue
        entry = history_entry(reading, language)
        size = len(json.dumps(entry, ensure_ascii=False))
        if used + size > budget:
            break
        entries.append(entry)
        used += size
    return tuple(entries)
