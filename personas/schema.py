"""Typed field tables for the card formats: read a JSON object into known values plus the
keys we do not know (kept verbatim), and write it back in the V2 or V3 shape.

A `Field` row says a key's kind, its default, and which spec versions carry it. Optional
fields (no default) stay `None` when absent and are left out again on output, so a card
that is read and written back has the same keys it came with.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

from hearth.errors import UserError


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# kind -> (check, what the user should have written)
KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "strs": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of strings"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "number": (_is_number, "a number"),
    "id": (lambda v: _is_number(v) or isinstance(v, str), "a number or a string"),
    "object": (lambda v: isinstance(v, dict), "a JSON object"),
    "objects": (lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v), "a list of JSON objects"),
    "str_map": (
        lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        "an object whose values are strings",
    ),
}

BOTH = (2, 3)
V3_ONLY = (3,)


@dataclass(frozen=True)
class Field:
    key: str
    kind: str
    default: Callable[[], Any] | None = None  # None: optional, absent stays absent
    versions: tuple[int, ...] = BOTH


def _json_type(value) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def read_fields(raw: dict, fields: tuple[Field, ...], *, version: int, where: str, source: str):
    """Return (values by key, unknown keys) for one JSON object, or raise a UserError naming
    `source` (the file) and `where` (the field path, e.g. `data.character_book.entries[2].`)."""
    values: dict[str, Any] = {}
    known = set()
    for field in fields:
        if version not in field.versions:
            values[field.key] = field.default() if field.default else None
            continue
        known.add(field.key)
        value = raw.get(field.key)
        if value is None:
            values[field.key] = field.default() if field.default else None
            continue
        check, wanted = KINDS[field.kind]
        if not check(value):
            raise UserError(
                f"field '{where}{field.key}' must be {wanted}, not {_json_type(value)}; fix the card and try again",
                where=source,
            )
        values[field.key] = copy.deepcopy(value)
    unknown = {key: copy.deepcopy(value) for key, value in raw.items() if key not in known}
    return values, unknown


def write_fields(obj, fields: tuple[Field, ...], *, version: int) -> dict:
    """The fields of `obj` that `version` carries; optional ones only when present."""
    out: dict[str, Any] = {}
    for field in fields:
        if version not in field.versions:
            continue
        value = getattr(obj, field.key)
        if value is None:
            if field.default is None:
                continue
            value = field.default()
        out[field.key] = copy.deepcopy(value)
    return out


def merge_unknown(known: dict, unknown: dict) -> dict:
    """Known values win; unknown keys ride along untouched."""
    out = dict(known)
    for key, value in unknown.items():
        out.setdefault(key, copy.deepcopy(value))
    return out
