"""The card's lorebook (`character_book`): facts that enter the prompt only when the
conversation mentions them.

An entry is inserted when one of its `keys` appears in the last `scan_depth` messages
(`constant` entries always; `enabled: false` never). A `selective` entry also needs its
`secondary_keys` to agree, by SillyTavern's `extensions.selectiveLogic` (AND ANY by default).
What is inserted is capped by a token budget: constant entries first, then higher
`priority`, then higher `insertion_order`; the survivors come out sorted by `insertion_order`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Callable

import regex  # not `re`: a match can be given a time limit, so a catastrophic key cannot hang a chat

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

# A card's regex key is someone else's code: one search of one key gets this long, then the key is
# skipped for the rest of the chat (with one warning) instead of backtracking for hours.
MATCH_TIMEOUT_S = 0.25
# Compiling nested counted repeats costs their product ((a{1000}){1000} takes a second, one more
# level forever); a lorebook key needs a handful.
MAX_REPEAT_PRODUCT = 10_000

_JS_REGEX = re.compile(r"^/(?P<body>.+)/(?P<flags>[a-z]*)$", re.DOTALL)
_JS_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL}
_LATIN_WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 '\-]*$")
_COUNTED_REPEAT = re.compile(r"(?<!\\)\{(\d*)(?:,(\d*))?\}")
# A word character that is not CJK: CJK text has no spaces, so "我叫Mel你好" still has "Mel" as a word.
_WORD_CHAR = r"[^\W\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]"

_log = logging.getLogger(__name__)


class KeyTooHeavy(ValueError):
    """A regex key whose counted repeats would take minutes to compile."""


def _compile_key(pattern: str, flags: int) -> regex.Pattern:
    product = 1
    for low, high in _COUNTED_REPEAT.findall(pattern):
        product *= max(int(low or 0), int(high or 0), 1)  # as if nested: the worst case
    if product > MAX_REPEAT_PRODUCT:
        raise KeyTooHeavy(f"its counted repeats multiply to {product}, over {MAX_REPEAT_PRODUCT}")
    return regex.compile(pattern, flags)


def _key_pattern(key: str, *, use_regex: bool, case_sensitive: bool, whole_words: bool | None) -> regex.Pattern:
    flags = 0 if case_sensitive else regex.IGNORECASE
    if use_regex:
        js = _JS_REGEX.match(key)  # SillyTavern writes regex keys as /pattern/flags
        if js:
            for letter in js["flags"]:
                flags |= _JS_FLAGS.get(letter, 0)
            return _compile_key(js["body"], flags)
        return _compile_key(key, flags)
    # Latin words match whole words ("cat" is not in "education"); CJK has no word breaks.
    if whole_words if whole_words is not None else bool(_LATIN_WORD.match(key)):
        return regex.compile(rf"(?<!{_WORD_CHAR}){regex.escape(key)}(?!{_WORD_CHAR})", flags)
    return regex.compile(regex.escape(key), flags)


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
    # keys that ran out of time or would not compile once expanded: skipped from then on (not part of the card)
    skipped: set[str] = field(default_factory=set, init=False, repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: dict, *, version: int, where: str, source: str) -> "LoreEntry":
        values, unknown = read_fields(raw, ENTRY_FIELDS, version=version, where=where, source=source)
        entry = cls(**values, unknown=unknown)
        if entry.use_regex:
            for key in entry.keys + (entry.secondary_keys or []):
                try:
                    entry._pattern(key)
                except regex.error as exc:
                    raise UserError(
                        f"field '{where}keys' has '{key}', which is not a valid regular expression ({exc}); "
                        "fix it or turn off use_regex",
                        where=source,
                    ) from None
                except KeyTooHeavy as exc:
                    raise UserError(
                        f"field '{where}keys' has '{key}', a regular expression too costly to use ({exc}); simplify it",
                        where=source,
                    ) from None
        return entry

    def to_dict(self, version: int) -> dict:
        return merge_unknown(write_fields(self, ENTRY_FIELDS, version=version), self.unknown)

    def _pattern(self, key: str) -> regex.Pattern:
        whole = self.extensions.get("match_whole_words")
        return _key_pattern(
            key,
            use_regex=self.use_regex,
            case_sensitive=bool(self.case_sensitive),
            whole_words=whole if isinstance(whole, bool) else None,
        )

    def _found(self, key: str, text: str) -> bool:
        if key in self.skipped:
            return False
        try:
            return self._pattern(key).search(text, timeout=MATCH_TIMEOUT_S) is not None
        except (TimeoutError, regex.error, KeyTooHeavy) as exc:
            # A card's mistake must not end the chat: say it once, then do without that key.
            self.skipped.add(key)
            why = f"took over {MATCH_TIMEOUT_S:g} s to match" if isinstance(exc, TimeoutError) else f"cannot be used ({exc})"
            label = self.name or self.comment
            _log.warning(
                "warning: lorebook key %r%s %s and is skipped from now on; simplify it in the card",
                key, f" (entry '{label}')" if label else "", why,
            )
            return False

    def hits(self, keys: list[str], text: str, expand: Callable[[str], str]) -> int:
        return sum(1 for key in keys if key.strip() and self._found(expand(key), text))

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
