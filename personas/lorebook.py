"""The card's lorebook (`character_book`): facts that enter the prompt only when the
conversation mentions them.

An entry is inserted when one of its `keys` appears in the last `scan_depth` messages
(`constant` entries always; `enabled: false` never). A `selective` entry also needs its
`secondary_keys` to agree, by SillyTavern's `extensions.selectiveLogic` (AND ANY by default).
What is inserted is capped by a token budget: constant entries first, then higher
`priority`, then higher `insertion_order`; the survivors come out sorted by `insertion_order`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from hearth.errors import UserError
from personas.schema import V3_ONLY, Field, merge_unknown, read_fields, write_fields

DEFAULT_SCAN_DEPTH = 2  # SillyTavern's default: the last two messages
DEFAULT_TOKEN_BUDGET = 512

ENTRY_FIELDS = (
    Field("keys", "strs", list),
    Field("content", "str", str),
    Field("extensions", "object", dict),
    Field("enabled", "bool", lambda: True),
    Field("insertion_order", "number", int),
    Field("case_sensitive", "bool"),
    Field("use_regex", "bool", lambda: False, versions=V3_ONLY),
    Field("constant", "bool"),
    Field("name", "str"),
    Field("priority", "number"),
    Field("id", "id"),
    Field("comment", "str"),
    Field("selective", "bool"),
    Field("secondary_keys", "strs"),
    Field("position", "str"),
)

BOOK_FIELDS = (
    Field("name", "str"),
    Field("description", "str"),
    Field("scan_depth", "number"),
    Field("token_budget", "number"),
    Field("recursive_scanning", "bool"),
    Field("extensions", "object", dict),
)

# SillyTavern's `extensions.selectiveLogic`: how secondary-key hits decide (hits, total) -> bool.
SELECTIVE_LOGIC: dict[int, Callable[[int, int], bool]] = {
    0: lambda hits, total: hits > 0,  # AND ANY
    1: lambda hits, total: hits < total,  # NOT ALL
    2: lambda hits, total: hits == 0,  # NOT ANY
    3: lambda hits, total: hits == total,  # AND ALL
}

_JS_REGEX = re.compile(r"^/(?P<body>.+)/(?P<flags>[a-z]*)$", re.DOTALL)
_JS_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
_LATIN_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 '\-]*$")


def _key_pattern(key: str, *, use_regex: bool, case_sensitive: bool, whole_words: bool | None) -> re.Pattern:
    flags = 0 if case_sensitive else re.IGNORECASE
    if use_regex:
        js = _JS_REGEX.match(key)  # SillyTavern writes regex keys as /pattern/flags
        if js:
            for letter in js["flags"]:
                flags |= _JS_FLAGS.get(letter, 0)
            return re.compile(js["body"], flags)
        return re.compile(key, flags)
    # Latin words match whole words ("cat" is not in "education"); CJK has no word breaks.
    if whole_words if whole_words is not None else bool(_LATIN_WORD.match(key)):
        return re.compile(rf"(?<!\w){re.escape(key)}(?!\w)", flags)
    return re.compile(re.escape(key), flags)


@dataclass
class LoreEntry:
    keys: list[str] = field(default_factory=list)
    content: str = ""
    extensions: dict = field(default_factory=dict)
    enabled: bool = True
    insertion_order: float = 0
    case_sensitive: bool | None = None
    use_regex: bool = False
    constant: bool | None = None
    name: str | None = None
    priority: float | None = None
    id: int | str | None = None
    comment: str | None = None
    selective: bool | None = None
    secondary_keys: list[str] | None = None
    position: str | None = None
    unknown: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict, *, version: int, where: str, source: str) -> "LoreEntry":
        values, unknown = read_fields(raw, ENTRY_FIELDS, version=version, where=where, source=source)
        entry = cls(**values, unknown=unknown)
        if entry.use_regex:
            for key in entry.keys + (entry.secondary_keys or []):
                try:
                    entry._pattern(key)
                except re.error as exc:
                    raise UserError(
                        f"field '{where}keys' has '{key}', which is not a valid regular expression ({exc}); "
                        "fix it or turn off use_regex",
                        where=source,
                    ) from None
        return entry

    def to_dict(self, version: int) -> dict:
        return merge_unknown(write_fields(self, ENTRY_FIELDS, version=version), self.unknown)

    def _pattern(self, key: str) -> re.Pattern:
        whole = self.extensions.get("match_whole_words")
        return _key_pattern(
            key,
            use_regex=self.use_regex,
            case_sensitive=bool(self.case_sensitive),
            whole_words=whole if isinstance(whole, bool) else None,
        )

    def hits(self, keys: list[str], text: str, expand: Callable[[str], str]) -> int:
        return sum(1 for key in keys if key.strip() and self._pattern(expand(key)).search(text))

    def triggered_by(self, text: str, expand: Callable[[str], str] = str) -> bool:
        if self.constant:
            return True
        if not self.hits(self.keys, text, expand):
            return False
        secondary = self.secondary_keys or []
        if not (self.selective and secondary):
            return True
        chosen = self.extensions.get("selectiveLogic", 0)
        logic = SELECTIVE_LOGIC.get(chosen if isinstance(chosen, int) else 0, SELECTIVE_LOGIC[0])
        return logic(self.hits(secondary, text, expand), len(secondary))


@dataclass
class Lorebook:
    entries: list[LoreEntry] = field(default_factory=list)
    name: str | None = None
    description: str | None = None
    scan_depth: float | None = None
    token_budget: float | None = None
    recursive_scanning: bool | None = None
    extensions: dict = field(default_factory=dict)
    unknown: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict, *, version: int, where: str, source: str) -> "Lorebook":
        raw = dict(raw)
        entries = raw.pop("entries", None)
        if entries is None:
            entries = []
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise UserError(f"field '{where}entries' must be a list of JSON objects; fix the card", where=source)
        values, unknown = read_fields(raw, BOOK_FIELDS, version=version, where=where, source=source)
        parsed = [
            LoreEntry.from_dict(entry, version=version, where=f"{where}entries[{index}].", source=source)
            for index, entry in enumerate(entries)
        ]
        return cls(entries=parsed, **values, unknown=unknown)

    def to_dict(self, version: int) -> dict:
        out = write_fields(self, BOOK_FIELDS, version=version)
        out["entries"] = [entry.to_dict(version) for entry in self.entries]
        return merge_unknown(out, self.unknown)


@dataclass(frozen=True)
class LoreHit:
    """One entry chosen for the prompt, its content already rendered."""

    content: str
    position: str  # before_char | after_char
    insertion_order: float
    entry: LoreEntry


_DECORATOR_LINE = re.compile(r"^@@.*(?:\n|$)")


def entry_text(content: str) -> str:
    """The content without V3 decorator lines (`@@depth 4` ...) at its head: those are
    directions to the front end, not text for the model."""
    while _DECORATOR_LINE.match(content):
        content = _DECORATOR_LINE.sub("", content, count=1)
    return content.strip()


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate: one token per CJK character, one per four other characters."""
    cjk = sum(1 for ch in text if "\u2e80" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" or "\uac00" <= ch <= "\ud7af")
    return cjk + (len(text) - cjk + 3) // 4


def _entry_depth(entry: LoreEntry, book_depth: int) -> int:
    own = entry.extensions.get("scan_depth")  # SillyTavern's per-entry override
    return int(own) if isinstance(own, (int, float)) and not isinstance(own, bool) else book_depth


def activated(book: Lorebook, recent_messages: list[str], expand: Callable[[str], str] = str) -> list[LoreEntry]:
    """The enabled entries the last messages trigger (with recursion when the book asks for it)."""
    depth = int(book.scan_depth) if book.scan_depth is not None else DEFAULT_SCAN_DEPTH
    candidates = [entry for entry in book.entries if entry.enabled and entry.content.strip()]
    chosen: list[LoreEntry] = []
    extra_text = ""  # recursion: activated content can trigger further entries
    while True:
        newly = []
        for entry in candidates:
            if any(entry is done for done in chosen):
                continue
            window = recent_messages[-_entry_depth(entry, depth):] if depth > 0 else []
            text = "\n".join(window) + extra_text
            if entry.triggered_by(text, expand):
                newly.append(entry)
        chosen.extend(newly)
        if not (newly and book.recursive_scanning):
            return chosen
        extra_text += "\n" + "\n".join(entry_text(expand(entry.content)) for entry in newly)


def select(
    book: Lorebook | None,
    recent_messages: list[str],
    *,
    expand: Callable[[str], str] = str,
    budget: int | None = None,
    count_tokens: Callable[[str], int] = approx_tokens,
) -> list[LoreHit]:
    """Entries to insert for these recent messages, within the token budget, in insertion order."""
    if book is None:
        return []
    limit = budget if budget is not None else int(book.token_budget or DEFAULT_TOKEN_BUDGET)
    ranked = sorted(
        activated(book, recent_messages, expand),
        key=lambda e: (not e.constant, -(e.priority or 0), -e.insertion_order),
    )
    kept: list[LoreHit] = []
    spent = 0
    for entry in ranked:
        content = entry_text(expand(entry.content))
        cost = count_tokens(content)
        if spent + cost > limit:
            continue  # a smaller, lower-ranked entry may still fit
        spent += cost
        kept.append(LoreHit(content, entry.position or "before_char", entry.insertion_order, entry))
    order = {id(entry): index for index, entry in enumerate(book.entries)}
    return sorted(kept, key=lambda hit: (hit.insertion_order, order[id(hit.entry)]))
