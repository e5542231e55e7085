"""Where personas come from: the built-ins shipped in this package (a folder each, holding
`card.json` or `card.png`, optionally `avatar.png`, and `dialogues.jsonl`, the chat data
that teaches a model the voice) and the cards a person imported,
kept as `HEARTH_HOME/personas/<slug>.json` with `<slug>.png` beside it when the card came
with a portrait.

A built-in may also carry the same character in another language beside its card:
`card.<language>.json` (or `.png`) and `dialogues.<language>.jsonl`, e.g. `card.en.json` for
an English base model. `find_persona(name, language="en")` picks that card; a language the
persona has no card for gets its own card.

Importing checks the whole card first and writes both files through temporary names, so a
malformed card leaves nothing behind and an interrupted import never looks finished.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from hearth.atomic import atomic_path
from hearth.errors import UserError
from hearth.language import LANGUAGES
from hearth.paths import hearth_home
from personas.card import Card, card_json, load_card
from personas.prompt import card_language

BUILTIN_ROOT = Path(__file__).resolve().parent
BUILTIN_CARD_FILES = ("card.json", "card.png")
CARD_SUFFIXES = (".json", ".png")


@dataclass(frozen=True)
class PersonaEntry:
    name: str  # what to type: the built-in's folder or the imported slug
    character: str  # the card's own name
    source: str  # "builtin" or "imported"
    path: Path  # the card file
    portrait: Path  # the picture used when the card file has none (may not exist)
    dialogues: Path | None = None  # a built-in's training conversations (chat `messages` JSONL)
    problem: str | None = None  # why the card file cannot be read, if it cannot
    aliases: tuple[str, ...] = field(default=(), compare=False, repr=False)
    # (language, card file) for each card of the persona, its own card (`path`) first
    cards: tuple[tuple[str, Path], ...] = ()
    # (alias, language) for the names of each card's character: `Lin Zhi` is the English card
    card_names: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)
    # (language, the character's name as that card writes it): 林栀 in Chinese, Lin Zhi in English
    characters: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(language for language, _ in self.cards)

    def character_in(self, language: str | None) -> str:
        """The character's name on the card in `language`, else on its own card."""
        return dict(self.characters).get(language, self.character)

    def card_path(self, language: str | None = None) -> Path:
        """The card file in `language` when the persona has one, else its own card."""
        return dict(self.cards).get(language, self.path)

    def language_named(self, name: str) -> str | None:
        """The language of the one card whose character goes by `name`; None for the folder name or a
        name every card shares."""
        languages = {language for alias, language in self.card_names if alias == name.strip().casefold()}
        return languages.pop() if len(languages) == 1 else None


def imported_dir() -> Path:
    return hearth_home() / "personas"


def slugify(text: str) -> str:
    """A file-safe name: lower case, runs of anything but letters/digits (any script) → '-'."""
    return re.sub(r"[\W_]+", "-", text.strip().lower()).strip("-")


def _entry(
    name: str, source: str, path: Path, portrait: Path, dialogues: Path | None = None, translations: dict | None = None
) -> PersonaEntry:
    """`translations`: language -> card file of the same character in another language."""
    try:
        card = load_card(path)
        others = {language: load_card(file) for language, file in (translations or {}).items()}
    except UserError as exc:
        # One damaged import must not hide every other persona; using it names the problem.
        return PersonaEntry(name, "?", source, path, portrait, dialogues, str(exc), (name.casefold(),))
    by_language = {card_language(card): (path, card)}
    for language, file in (translations or {}).items():
        by_language.setdefault(language, (file, others[language]))
    cards = tuple((language, file) for language, (file, _) in by_language.items())
    card_names = tuple((alias, language) for language, (_, each) in by_language.items() for alias in _names(each))
    aliases = tuple(sorted({name.casefold(), *(alias for alias, _ in card_names)}))
    characters = tuple((language, each.name) for language, (_, each) in by_language.items())
    return PersonaEntry(name, card.name, source, path, portrait, dialogues, None, aliases, cards, card_names,
                        characters)


def _names(card: Card) -> set[str]:
    return {alias.casefold() for alias in (card.name, slugify(card.name), card.nickname or "") if alias}


def _first_file(folder: Path, names) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _translations(folder: Path) -> dict[str, Path]:
    """language -> `card.<language>.json|png` in a built-in's folder."""
    found = {language: _first_file(folder, (f"card.{language}{suffix}" for suffix in CARD_SUFFIXES))
             for language in LANGUAGES}
    return {language: path for language, path in found.items() if path is not None}


def builtin_personas() -> list[PersonaEntry]:
    entries = []
    for folder in sorted(p for p in BUILTIN_ROOT.iterdir() if p.is_dir()):
        card_file = _first_file(folder, BUILTIN_CARD_FILES)
        if card_file is not None:
            dialogues = folder / "dialogues.jsonl"
            entries.append(_entry(folder.name, "builtin", card_file, folder / "avatar.png",
                                  dialogues if dialogues.is_file() else None, _translations(folder)))
    return entries


def imported_personas() -> list[PersonaEntry]:
    folder = imported_dir()
    if not folder.is_dir():
        return []
    return [_entry(path.stem, "imported", path, path.with_suffix(".png")) for path in sorted(folder.glob("*.json"))]


def list_personas() -> list[PersonaEntry]:
    """Built-ins first, then imported cards, each sorted by name."""
    return builtin_personas() + imported_personas()


def load_entry(entry: PersonaEntry, language: str | None = None) -> Card:
    """The persona's card in `language` when it has one, else its own card."""
    card = load_card(entry.card_path(language))  # a damaged file raises its own clear error here
    if card.image is None and entry.portrait.is_file():
        card.image = entry.portrait.read_bytes()
    return card


def _known(entries: list[PersonaEntry]) -> str:
    return ", ".join(
        entry.name if entry.name == entry.character else f"{entry.name} ({entry.character})" for entry in entries
    ) or "none"


def find_entry(name: str) -> PersonaEntry | None:
    wanted = name.strip().casefold()
    return next((entry for entry in list_personas() if wanted in entry.aliases), None)


def find_persona(name_or_path, language: str | None = None) -> Card:
    """A built-in (`linzhi`, `林栀` or `Lin Zhi`), an imported persona (slug or character name), or a
    card file path; in `language` when the persona has a card in it (default: the language of the card
    whose character's name was given, else the persona's own card). Unknown names are a UserError that
    lists the known ones."""
    candidate = Path(str(name_or_path)).expanduser()
    if candidate.is_file():
        return load_card(candidate)
    entry = find_entry(str(name_or_path))
    if entry is not None:
        return load_entry(entry, language or entry.language_named(str(name_or_path)))
    if candidate.suffix.lower() in CARD_SUFFIXES or "/" in str(name_or_path):
        raise UserError("no such card file", where=str(candidate))
    raise UserError(
        f"no persona named '{name_or_path}'; known: {_known(list_personas())} "
        "(`hearth persona list`), or give the path of a card file"
    )


def import_card(path, *, name: str | None = None, replace: bool = False) -> PersonaEntry:
    """Check the card at `path` and keep a copy under HEARTH_HOME/personas. `name` overrides
    the stored name (default: the card's name); an existing import is kept unless `replace`."""
    card = load_card(path)
    slug = slugify(name if name is not None else card.name)
    if not slug:
        raise UserError(f"'{name or card.name}' gives no usable file name; choose one with --as NAME", where=str(path))
    builtin = next((e for e in builtin_personas() if slug.casefold() in e.aliases), None)
    if builtin is not None:
        raise UserError(f"'{slug}' is the built-in persona {builtin.name}; import it under another name with --as NAME")
    target = imported_dir() / f"{slug}.json"
    portrait = target.with_suffix(".png")
    if target.exists() and not replace:
        raise UserError(
            f"a persona named '{slug}' is already imported ({target}); add --replace to overwrite it "
            "or --as NAME to keep both"
        )
    text = card_json(card)
    with atomic_path(target) as card_partial:
        card_partial.write_text(text, encoding="utf-8")
        if card.image is not None:
            with atomic_path(portrait) as portrait_partial:
                portrait_partial.write_bytes(card.image)
    if card.image is None:
        portrait.unlink(missing_ok=True)  # a replaced import's old picture is not this card's
    return _entry(slug, "imported", target, portrait)
