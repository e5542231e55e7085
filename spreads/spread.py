"""Spreads: each spread's names (Chinese and English), its positions in order with what each one asks,
and where each card lies on the table (`at`: column, row). The bundled ones are spreads/spreads.json; a
reader's own are YAML or JSON files in `HEARTH_HOME/spreads/`, loaded beside them.

A spread is found by its id (`three-card`), Chinese or English name, or any alias, matched after NFKC
and case folding (so `三张牌（过去/现在/未来）` and `三张牌(过去/现在/未来)` are one name). One broken
user file is reported with its path and the field at fault; the others still load.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hearth.errors import UserError

SPREADS_FILE = Path(__file__).with_name("spreads.json")
USER_SPREADS_DIR = "spreads"  # under HEARTH_HOME
SPREAD_SUFFIXES = (".yaml", ".yml", ".json")
DECK_SIZE = 78  # a spread cannot ask for more cards than the deck holds


def normalise(text: str) -> str:
    """The lookup key of a spread name: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


class SpreadError(ValueError):
    """What is wrong with one spread definition, naming the field at fault."""


@dataclass(frozen=True)
class Position:
    zh: str
    en: str
    meaning_zh: str = ""
    meaning_en: str = ""
    at: tuple[int, int] = (0, 0)  # (column, row) on the table

    def name(self, language: str = "zh") -> str:
        return self.en if language == "en" else self.zh

    def meaning(self, language: str = "zh") -> str:
        return self.meaning_en if language == "en" else self.meaning_zh


@dataclass(frozen=True)
class Spread:
    id: str
    zh: str
    en: str
    aliases: tuple[str, ...]
    positions: tuple[Position, ...]
    source: str = "bundled"  # "bundled", or the user file it came from

    def __len__(self) -> int:
        return len(self.positions)

    def names(self) -> tuple[str, ...]:
        return (self.id, self.zh, self.en, *self.aliases)

    def name(self, language: str = "zh") -> str:
        return self.en if language == "en" else self.zh

    def prompt_name(self, typed: str | None = None, language: str = "zh") -> str:
        """How the spread is written in the reading prompt (`牌阵：…` / `Spread: …`).

        A name the user typed in the prompt's language is kept as typed — their own data names the
        spread that way, and the prompt should read like what the model was trained on; an id or a
        name in the other language becomes the spread's name in the prompt's language.
        """
        typed = (typed or "").strip()
        own = self.name(language)
        same_language = [own, *(a for a in self.aliases if _is_chinese(a) == (language == "zh"))]
        return typed if typed in same_language else own

    @property
    def grid(self) -> tuple[int, int]:
        """(columns, rows) the layout spans."""
        return (max(p.at[0] for p in self.positions) + 1, max(p.at[1] for p in self.positions) + 1)


def _is_chinese(text: str) -> bool:
    from hearth.language import text_language

    return text_language(text) == "zh"


# -- reading a definition ------------------------------------------------------------------------


def _string(data: dict, key: str, where: str, required: bool = True) -> str:
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise SpreadError(f"'{where}{key}' must be a non-empty string")
    return value.strip()


def _meaning(data: dict, where: str) -> tuple[str, str]:
    """`meaning: "…"` (both languages) or `meaning: {zh: …, en: …}`."""
    meaning = data.get("meaning")
    if meaning is None or isinstance(meaning, str):
        text = (meaning or "").strip()
        return text, text
    if isinstance(meaning, dict):
        zh, en = _string(meaning, "zh", f"{where}meaning.", False), _string(meaning, "en", f"{where}meaning.", False)
        return zh or en, en or zh
    raise SpreadError(f"'{where}meaning' must be a string or {{zh: …, en: …}}")


def _at(data: dict, where: str, number: int) -> tuple[int, int]:
    at = data.get("at")
    if at is None:
        return (number, 0)  # no layout given: a row, left to right
    if (not isinstance(at, (list, tuple)) or len(at) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 100 for v in at)):
        raise SpreadError(f"'{where}at' must be [column, row], two whole numbers from 0 to 99")
    return (at[0], at[1])


def _position(data, number: int) -> Position:
    where = f"positions[{number}]."
    if isinstance(data, str):
        data = {"name": data}
    if not isinstance(data, dict):
        raise SpreadError(f"'positions[{number}]' must be a mapping with zh/en names (or one name)")
    names = {key: data.get(key, data.get("name")) for key in ("zh", "en")}
    zh, en = (_string(names, key, where, required=False) for key in ("zh", "en"))
    if not (zh or en):
        raise SpreadError(f"'{where}zh' or '{where}en' must name the position")
    meaning_zh, meaning_en = _meaning(data, where)
    return Position(zh or en, en or zh, meaning_zh, meaning_en, _at(data, where, number))


def spread_from_data(data, source: str = "bundled", default_id: str | None = None) -> Spread:
    """One spread from its definition (a mapping); SpreadError names the field at fault."""
    if not isinstance(data, dict):
        raise SpreadError("a spread must be a mapping with id, zh, en and positions")
    spread_id = _string(data, "id", "", required=default_id is None) or default_id
    zh, en = _string(data, "zh", "", required="en" not in data), _string(data, "en", "", required="zh" not in data)
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise SpreadError("'aliases' must be a list of names")
    positions = data.get("positions")
    if not isinstance(positions, list) or not positions:
        raise SpreadError("'positions' must list at least one position")
    if len(positions) > DECK_SIZE:
        raise SpreadError(f"'positions' has {len(positions)} positions but the deck has only {DECK_SIZE} cards")
    placed = tuple(_position(p, n) for n, p in enumerate(positions))
    for language in ("zh", "en"):
        names = [normalise(p.name(language)) for p in placed]
        twice = next((n for n in names if names.count(n) > 1), None)
        if twice is not None:
            raise SpreadError(f"'positions' names the position '{twice}' twice; each position needs its own name")
    cells = [p.at for p in placed]
    shared = next((c for c in cells if cells.count(c) > 1), None)
    if shared is not None:
        raise SpreadError(f"'positions' puts two cards at {list(shared)}; give each position its own 'at'")
    return Spread(spread_id, zh or en, en or zh, tuple(a.strip() for a in aliases), placed, source)


def _read_file(path: Path):
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)


def spreads_in_file(path: Path, source: str | None = None) -> list[Spread]:
    """The spreads a file defines: one spread, or `spreads: [...]`. UserError names the path and field."""
    source = source or str(path)
    try:
        data = _read_file(path)
    except UnicodeDecodeError:
        raise UserError("is not UTF-8 text; save it as UTF-8", where=source) from None
    except OSError as exc:
        raise UserError(f"cannot be read ({exc.strerror or exc})", where=source) from None
    except json.JSONDecodeError as exc:
        raise UserError(f"is not valid JSON ({exc.msg} at line {exc.lineno})", where=source) from None
    except yaml.YAMLError as exc:
        raise UserError(f"is not valid YAML ({str(exc).splitlines()[0]})", where=source) from None
    rows = data.get("spreads") if isinstance(data, dict) and "spreads" in data else [data]
    if not isinstance(rows, list):
        raise UserError("'spreads' must be a list of spreads", where=source)
    spreads = []
    for number, row in enumerate(rows):
        try:
            spreads.append(spread_from_data(row, source, default_id=path.stem if len(rows) == 1 else None))
        except SpreadError as exc:
            prefix = f"spreads[{number}]: " if len(rows) > 1 else ""
            raise UserError(f"{prefix}{exc}", where=source) from None
    return spreads


# -- the book of spreads -------------------------------------------------------------------------


@dataclass
class SpreadBook:
    spreads: tuple[Spread, ...] = ()
    problems: list[str] = field(default_factory=list)  # user files that did not load, with why

    def __post_init__(self) -> None:
        self._by_key: dict[str, Spread] = {}
        accepted = []
        for spread in self.spreads:
            clash = next((self._by_key[normalise(n)] for n in spread.names() if normalise(n) in self._by_key), None)
            if clash is not None:
                if spread.source == "bundled":
                    raise ValueError(f"bundled spreads: the name of {spread.id} is used by {clash.id} too")
                self.problems.append(f"{spread.source}: the spread '{spread.id}' shares a name with '{clash.id}'"
                                     f" ({clash.source}); rename it")
                continue
            for name in spread.names():
                self._by_key[normalise(name)] = spread
            accepted.append(spread)
        self.spreads = tuple(accepted)

    @classmethod
    def from_file(cls, path: str | Path = SPREADS_FILE) -> "SpreadBook":
        return cls(tuple(spreads_in_file(Path(path), source="bundled")))

    def with_folder(self, folder: Path) -> "SpreadBook":
        """This book and every spread file in `folder`; a broken file becomes a problem, the rest still load."""
        spreads, problems = list(self.spreads), list(self.problems)
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in SPREAD_SUFFIXES) if folder.is_dir() else []
        for path in files:
            try:
                spreads.extend(spreads_in_file(path))
            except UserError as exc:
                problems.append(str(exc))
        return SpreadBook(tuple(spreads), problems)

    def find(self, name: str) -> Spread:
        spread = self._by_key.get(normalise(name or ""))
        if spread is None:
            known = ", ".join(f"{s.id} ({s.zh}, {len(s)} card{'s' if len(s) > 1 else ''})" for s in self.spreads)
            broken = f" ({len(self.problems)} spread file(s) did not load; `hearth tarot spreads` says why)" if self.problems else ""
            raise UserError(f"unknown spread '{(name or '').strip()}'; choose one of: {known}{broken}")
        return spread


@functools.cache
def bundled_spreads() -> SpreadBook:
    """The bundled spreads, read once per process."""
    return SpreadBook.from_file()


def user_spreads_dir() -> Path:
    from hearth.paths import hearth_home

    return hearth_home() / USER_SPREADS_DIR


def default_spreads() -> SpreadBook:
    """The bundled spreads and the user's own (HEARTH_HOME/spreads/, read afresh each time: they are few)."""
    return bundled_spreads().with_folder(user_spreads_dir())


def find_spread(name: str) -> Spread:
    return default_spreads().find(name)
