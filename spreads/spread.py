"""Spread definitions (spreads/spreads.json): each spread's names and its positions in order.

A spread is found by its id (`three-card`), Chinese or English name, or any alias, matched after
NFKC and case folding (so `三张牌（过去/现在/未来）` and `三张牌(过去/现在/未来)` are one name).
"""

from __future__ import annotations

import functools
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from hearth.errors import UserError

SPREADS_FILE = Path(__file__).with_name("spreads.json")


def normalise(text: str) -> str:
    """The lookup key of a spread name: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True)
class Position:
    zh: str
    en: str


@dataclass(frozen=True)
class Spread:
    id: str
    zh: str
    en: str
    aliases: tuple[str, ...]
    positions: tuple[Position, ...]

    def __len__(self) -> int:
        return len(self.positions)

    def names(self) -> tuple[str, ...]:
        return (self.id, self.zh, self.en, *self.aliases)

    def prompt_name(self, typed: str | None = None) -> str:
        """How the spread is written in the reading prompt (`牌阵：…`).

        A Chinese name the user typed is kept as typed — their own data names the spread that way,
        and the prompt should read like what the model was trained on; an id or English name
        becomes the spread's Chinese name.
        """
        typed = (typed or "").strip()
        return typed if typed in (self.zh, *self.aliases) else self.zh


class SpreadBook:
    def __init__(self, spreads: list[Spread], source: str = "spreads"):
        self.spreads = tuple(spreads)
        self._by_key: dict[str, Spread] = {}
        for spread in self.spreads:
            for name in spread.names():
                owner = self._by_key.setdefault(normalise(name), spread)
                if owner is not spread:
                    raise ValueError(f"{source}: the name {name!r} is used by both {owner.id} and {spread.id}")

    @classmethod
    def from_file(cls, path: str | Path = SPREADS_FILE) -> "SpreadBook":
        path = Path(path)
        rows = json.loads(path.read_text(encoding="utf-8"))["spreads"]
        return cls([_spread(row) for row in rows], source=str(path))

    def find(self, name: str) -> Spread:
        spread = self._by_key.get(normalise(name or ""))
        if spread is None:
            known = ", ".join(f"{s.id} ({s.zh}, {len(s)} card{'s' if len(s) > 1 else ''})" for s in self.spreads)
            raise UserError(f"unknown spread '{(name or '').strip()}'; choose one of: {known}")
        return spread


def _spread(row: dict) -> Spread:
    return Spread(
        id=row["id"],
        zh=row["zh"],
        en=row["en"],
        aliases=tuple(row.get("aliases", ())),
        positions=tuple(Position(p["zh"], p["en"]) for p in row["positions"]),
    )


@functools.cache
def default_spreads() -> SpreadBook:
    """The bundled spreads, read once per process."""
    return SpreadBook.from_file()


def find_spread(name: str) -> Spread:
    return default_spreads().find(name)
