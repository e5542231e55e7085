"""Stored readings back out as tarot training rows (`hearth tarot export-dataset`): the loop closes.

A reading is stored as plain data (companion.readings: its cards with their positions and what each
position asks, and its context: the prompt's language and the querent's history when it was given).
Its row carries all of that, so `tuner.formats.tarot_row_prompt` of the row is the prompt the reading
was made from. Readings stored before positions were kept give a row with position names only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hearth.errors import UserError
from hearth.jsonl import read_rows, write_rows
from tuner.formats import card_text, tarot_language


def stored_language(reading) -> str:
    return reading.context.get("language", "zh")


def card_texts(reading) -> list[str]:
    """`["愚人(正位)", …]`: a stored reading's cards as its prompt wrote them."""
    language = stored_language(reading)
    return [card_text(c["card"], c["reversed"], language) for c in reading.cards]


def stored_layout(reading):
    """A stored reading laid out again in its spread (a spreads.draw.Layout, meanings and all), or None when
    its spread or one of its cards is named in a way the deck and the spreads no longer know."""
    from spreads.draw import cards_given
    from spreads.spread import find_spread

    try:
        return cards_given(find_spread(reading.spread), card_texts(reading))
    except UserError:
        return None


def training_row(reading) -> dict:
    """The tarot row `hearth train --data` reads: person, question, spread, cards, positions, language,
    history (when the reading was given one) and the reading."""
    row = {
        "person": reading.person,
        "question": reading.question,
        "spread": reading.spread,
        "cards": card_texts(reading),
        "positions": [{"name": c["position"], "meaning": c.get("meaning", "")} for c in reading.cards],
        "language": stored_language(reading),
    }
    if reading.context.get("history"):
        row["history"] = reading.context["history"]
    row["reading"] = reading.reading
    return row


def with_positions(row: dict, book=None) -> dict:
    """An original-format tarot row (a plain list of cards) given its spread's positions, named in the row's
    language with what each asks: the prompt it then trains on is the one a live reading gets."""
    from spreads.draw import split_card_list
    from spreads.spread import default_spreads

    spread = (book or default_spreads()).find(row.get("spread") or "")
    cards = split_card_list(row["cards"]) if isinstance(row.get("cards"), str) else list(row.get("cards") or [])
    if len(cards) != len(spread):
        raise UserError(f"the spread {spread.id} has {len(spread)} position(s) but the row has {len(cards)} card(s)")
    language = tarot_language(row)
    positions = [{"name": p.name(language), "meaning": p.meaning(language)} for p in spread.positions]
    ordered = {key: value for key, value in row.items() if key != "reading"}
    return {**ordered, "cards": cards, "positions": positions, **({"reading": row["reading"]} if "reading" in row else {})}


def rated_reading_rows(store) -> list[dict]:
    """Rated readings as unpaired preference rows (companion.preferences): the prompt the reading's training
    row gives (tuner.formats.from_tarot, so the same as SFT and a live reading), the reading, its rating's label."""
    from companion.preferences import unpaired_row
    from tuner.formats import from_tarot

    rows = []
    for reading in store.list(min_rating=1, oldest_first=True):
        messages = from_tarot(training_row(reading)) if reading.reading.strip() else []
        row = unpaired_row(messages[:-1], reading.reading, reading.rating) if messages else None
        rows += [row] if row else []
    return rows


@dataclass
class ExportSummary:
    written: list[int] = field(default_factory=list)  # reading ids, oldest first


def export_readings(store, out: str | Path, min_rating: int | None = None) -> ExportSummary:
    """Write readings (oldest first; only those rated `min_rating` or more when given) as tarot rows.

    The file appears whole or not at all; with no reading to write nothing is written.
    """
    readings = [r for r in store.list(min_rating=min_rating, oldest_first=True) if r.reading.strip()]
    if not readings:
        wanted = f"rated {min_rating} or more" if min_rating is not None else "stored"
        raise UserError(f"no readings {wanted} to export; `hearth tarot readings` lists them, `hearth tarot rate` rates one")
    write_rows(out, (training_row(reading) for reading in readings))
    return ExportSummary([r.id for r in readings])


def add_positions(source: str | Path, out: str | Path) -> int:
    """Copy a JSONL file of original-format tarot rows with each row given its spread's positions
    (`hearth tarot add-positions`); rows that already have positions are kept as they are. Returns the row count.
    A row that cannot be given positions is a UserError naming its file and line; nothing is written then."""
    rows = []
    for line in read_rows(source, what="readings file"):
        where, row = line.where, line.row
        if not isinstance(row, dict):
            raise UserError("not a tarot row (expected an object with spread and cards)", where=where)
        try:
            rows.append(row if "positions" in row else with_positions(row))
        except (UserError, ValueError) as exc:
            raise UserError(str(exc), where=where) from None
    write_rows(out, rows)
    return len(rows)
