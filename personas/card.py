"""A Character Card (V2 or V3, from JSON or PNG) and its way back out to both.

`Card` holds every field of both specs. Keys we do not know, at the top level, in `data`,
in the lorebook and its entries, and everything under `extensions`, are kept verbatim and
written back. A flat V1 card (TavernAI/Pygmalion names included) is upgraded on import.
Every malformed card is one `UserError` naming the file and the field; nothing else escapes.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from hearth.atomic import atomic_path
from hearth.errors import UserError
from personas import png
from personas.avatar import default_avatar
from personas.lorebook import Lorebook
from personas.schema import V3_ONLY, Field, merge_unknown, read_fields, write_fields

# spec name <-> (version, spec_version written)
SPECS = {"chara_card_v2": (2, "2.0"), "chara_card_v3": (3, "3.0")}
SPEC_OF_VERSION = {version: name for name, (version, _) in SPECS.items()}
SPEC_ALIASES = {"v2": "chara_card_v2", "2": "chara_card_v2", "v3": "chara_card_v3", "3": "chara_card_v3"}

CARD_FIELDS = (
    Field("name", "str", str),
    Field("description", "str", str),
    Field("personality", "str", str),
    Field("scenario", "str", str),
    Field("first_mes", "str", str),
    Field("mes_example", "str", str),
    Field("creator_notes", "str", str),
    Field("system_prompt", "str", str),
    Field("post_history_instructions", "str", str),
    Field("alternate_greetings", "strs", list),
    Field("tags", "strs", list),
    Field("creator", "str", str),
    Field("character_version", "str", str),
    Field("extensions", "object", dict),
    Field("nickname", "str", versions=V3_ONLY),
    Field("creator_notes_multilingual", "str_map", versions=V3_ONLY),
    Field("source", "strs", versions=V3_ONLY),
    Field("group_only_greetings", "strs", list, versions=V3_ONLY),
    Field("creation_date", "number", versions=V3_ONLY),
    Field("modification_date", "number", versions=V3_ONLY),
    Field("assets", "objects", versions=V3_ONLY),
)

# V1 (flat) card: our field <- the names older front ends used for it, first found wins.
V1_NAMES = {
    "name": ("name", "char_name"),
    "description": ("description", "char_persona"),
    "personality": ("personality",),
    "scenario": ("scenario", "world_scenario"),
    "first_mes": ("first_mes", "char_greeting"),
    "mes_example": ("mes_example", "example_dialogue"),
    "creator_notes": ("creatorcomment",),
    "tags": ("tags",),
}
# V2/V3 writers often copy the V1 fields to the top level too; `data` is the truth, so
# those copies are dropped on read rather than kept as stale "unknown" keys.
V1_MIRRORS = {"name", "description", "personality", "scenario", "first_mes", "mes_example", "creatorcomment", "tags"}
ENVELOPE = {"spec", "spec_version", "data"}

CARD_CHUNKS = ("ccv3", "chara")  # PNG text keywords, in the order readers prefer them
MAX_CARD_FILE_BYTES = 64 * 1024 * 1024  # a portrait and a big lorebook are a few MB

# C0/C1 control characters but tab and newline: in a terminal they move the cursor, clear the
# screen or start escape sequences; in a prompt they are noise. A card loses them on reading.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional embeddings, overrides and isolates reorder the text shown around them.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def without_controls(text: str) -> str:
    return _CONTROLS.sub("", text)


def display_text(text: str) -> str:
    """Card text (a name, a field, an error quoting it) as safe to print: no control characters
    and no bidirectional overrides. The prompt keeps the latter; scripts written right to left need them."""
    return _BIDI_CONTROLS.sub("", without_controls(text))


def _cleaned(value):
    """A parsed card with control characters removed from every string, keys included."""
    if isinstance(value, str):
        return without_controls(value)
    if isinstance(value, list):
        return [_cleaned(item) for item in value]
    if isinstance(value, dict):
        return {without_controls(key): _cleaned(item) for key, item in value.items()}
    return value


@dataclass
class Card:
    name: str = ""
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    creator_notes: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    creator: str = ""
    character_version: str = ""
    extensions: dict = field(default_factory=dict)
    character_book: Lorebook | None = None
    # V3 additions
    nickname: str | None = None
    creator_notes_multilingual: dict | None = None
    source: list[str] | None = None
    group_only_greetings: list[str] = field(default_factory=list)
    creation_date: float | None = None
    modification_date: float | None = None
    assets: list[dict] | None = None
    # what the card came as, and keys we carry without knowing them
    spec: str = "chara_card_v2"
    unknown_data: dict = field(default_factory=dict)
    unknown_top: dict = field(default_factory=dict)
    # the portrait (PNG bytes without card chunks) when the card came from a PNG
    image: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def version(self) -> int:
        return SPECS[self.spec][0]

    @property
    def display_name(self) -> str:
        """What `{{char}}` becomes: the V3 nickname when set, else the name."""
        return self.nickname or self.name

    @classmethod
    def from_dict(cls, raw, *, source: str = "card") -> "Card":
        if not isinstance(raw, dict):
            raise UserError("is not a character card: its JSON is not an object", where=source)
        if "spec" not in raw:
            if "data" in raw:
                raise UserError("has a 'data' object but no 'spec' field; set spec to chara_card_v2 or chara_card_v3", where=source)
            return cls._from_v1(raw, source)
        spec = raw["spec"]
        if not isinstance(spec, str) or spec not in SPECS:
            raise UserError(
                f"field 'spec' is {json.dumps(spec, ensure_ascii=False)}; hearth reads chara_card_v2 and "
                "chara_card_v3 cards (and flat V1 cards with no spec)",
                where=source,
            )
        version = SPECS[spec][0]
        data = raw.get("data")
        if not isinstance(data, dict):
            raise UserError(f"field 'data' is missing or not an object, which a {spec} card needs", where=source)
        data = dict(data)
        book = data.pop("character_book", None)
        values, unknown_data = read_fields(data, CARD_FIELDS, version=version, where="data.", source=source)
        if book is not None and not isinstance(book, dict):
            raise UserError("field 'data.character_book' must be a JSON object", where=source)
        card = cls(
            **values,
            character_book=Lorebook.from_dict(book, version=version, where="data.character_book.", source=source)
            if book is not None
            else None,
            spec=spec,
            unknown_data=unknown_data,
            unknown_top={k: v for k, v in raw.items() if k not in ENVELOPE | V1_MIRRORS},
        )
        card._check_name(source, "data.name")
        return card

    @classmethod
    def _from_v1(cls, raw: dict, source: str) -> "Card":
        if not any(name in raw for name in V1_NAMES["name"]):
            raise UserError("is not a character card: it has no 'spec' field and no 'name'", where=source)
        flat = {}
        for ours, theirs in V1_NAMES.items():
            found = next((name for name in theirs if raw.get(name) is not None), None)
            if found is not None:
                flat[ours] = raw[found]
        values, _ = read_fields(flat, CARD_FIELDS, version=2, where="", source=source)
        used = {name for names in V1_NAMES.values() for name in names}
        card = cls(**values, unknown_top={k: v for k, v in raw.items() if k not in used})
        card._check_name(source, "name")
        return card

    def _check_name(self, source: str, where: str) -> None:
        if not self.name.strip():
            raise UserError(f"field '{where}' is empty; a card needs the character's name", where=source)

    def to_dict(self, spec: str | None = None) -> dict:
        """The card in the V2 or V3 shape (`spec`: chara_card_v2/v3, v2/v3; default: its own)."""
        spec = resolve_spec(spec or self.spec)
        version, spec_version = SPECS[spec]
        data = write_fields(self, CARD_FIELDS, version=version)
        if self.character_book is not None:
            data["character_book"] = self.character_book.to_dict(version)
        envelope = {"spec": spec, "spec_version": spec_version, "data": merge_unknown(data, self.unknown_data)}
        return merge_unknown(envelope, self.unknown_top)


def resolve_spec(spec: str) -> str:
    name = SPEC_ALIASES.get(spec.lower(), spec.lower())
    if name not in SPECS:
        raise UserError(f"unknown card spec '{spec}'; use v2 or v3")
    return name


# ---- reading -------------------------------------------------------------------------


def _json_object(text: str, *, source: str, what: str):
    try:
        return _cleaned(json.loads(text))
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix or re-export the card",
            where=source,
        ) from None
    except RecursionError:
        raise UserError(f"{what} is nested too deeply to be a character card; refused", where=source) from None


def _card_from_png(blob: bytes, source: str) -> Card:
    texts = png.read_text(blob, source=source, keywords=set(CARD_CHUNKS))
    keyword = next((k for k in CARD_CHUNKS if k in texts), None)
    if keyword is None:
        raise UserError(
            "is a PNG with no character card in it (no 'chara' or 'ccv3' text chunk); "
            "export the card from its app as a character card PNG",
            where=source,
        )
    encoded = "".join(texts[keyword].split())
    try:
        payload = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise UserError(
            f"has a '{keyword}' text chunk that is not valid base64 UTF-8, so the card in it is damaged; re-export the card",
            where=source,
        ) from None
    card = Card.from_dict(_json_object(payload, source=source, what=f"the '{keyword}' card"), source=source)
    card.image = png.rewrite_text(blob, remove=set(CARD_CHUNKS), add={}, source=source)
    return card


def _card_from_charx(blob: bytes, source: str) -> Card:
    raise UserError("is a ZIP/CHARX archive, which hearth does not read; export the card as PNG or JSON", where=source)


def _card_from_json(blob: bytes, source: str) -> Card:
    try:
        text = blob.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserError("is neither a PNG nor UTF-8 JSON; a character card is a .png or .json file", where=source) from None
    return Card.from_dict(_json_object(text, source=source, what="the file"), source=source)


# leading bytes -> reader; anything else is tried as JSON
READERS = ((png.PNG_SIGNATURE, _card_from_png), (b"PK\x03\x04", _card_from_charx))


def card_from_bytes(blob: bytes, *, source: str = "card") -> Card:
    """A card from a file's bytes, recognised by content (PNG signature, else JSON)."""
    reader = next((read for magic, read in READERS if blob.startswith(magic)), _card_from_json)
    return reader(blob, source)


def load_card(path) -> Card:
    """Read a card file (JSON or PNG, by content rather than extension)."""
    path = Path(path).expanduser()
    try:
        with path.open("rb") as handle:
            blob = handle.read(MAX_CARD_FILE_BYTES + 1)
    except FileNotFoundError:
        raise UserError("no such file; give the path of a character card (.png or .json)", where=str(path)) from None
    except IsADirectoryError:
        raise UserError("is a directory; give the path of a character card (.png or .json)", where=str(path)) from None
    if len(blob) > MAX_CARD_FILE_BYTES:
        raise UserError(f"is larger than {MAX_CARD_FILE_BYTES // 2**20} MB, far more than any character card; refused",
                        where=str(path))
    return card_from_bytes(blob, source=str(path))


# ---- writing -------------------------------------------------------------------------


def card_json(card: Card, spec: str | None = None) -> str:
    return json.dumps(card.to_dict(spec), ensure_ascii=False, indent=2) + "\n"


def _chunk_text(card: Card, spec: str) -> str:
    compact = json.dumps(card.to_dict(spec), ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(compact.encode("utf-8")).decode("ascii")


def card_png(card: Card) -> bytes:
    """The card's portrait (or a default one) carrying `chara` (V2) and `ccv3` (V3) chunks."""
    portrait = card.image or default_avatar(card.name)
    chunks = {"chara": _chunk_text(card, "chara_card_v2"), "ccv3": _chunk_text(card, "chara_card_v3")}
    return png.rewrite_text(portrait, remove=set(CARD_CHUNKS), add=chunks, source="the card's portrait")


# file suffix -> bytes of the card in that format
WRITERS = {
    ".json": lambda card, spec: card_json(card, spec).encode("utf-8"),
    ".png": lambda card, spec: card_png(card),
}


def save_card(card: Card, path, *, spec: str | None = None) -> Path:
    """Write `card` to `path` (.json or .png by extension), atomically. `spec` picks the JSON
    shape (default: the card's own); a PNG always carries both."""
    path = Path(path).expanduser()
    write = WRITERS.get(path.suffix.lower())
    if write is None:
        raise UserError(f"cannot save a card as '{path.suffix or path.name}'; name the file .png or .json", where=str(path))
    blob = write(card, spec)
    with atomic_path(path) as partial:
        partial.write_bytes(blob)
    return path
