"""Card macros: `{{char}}`/`<BOT>` → the character, `{{user}}`/`<USER>` → the person,
`{{original}}` → the instruction a card's system_prompt replaces.

Case-insensitive, spaces inside the braces allowed (`{{ Char }}`), one pass over the text,
so a name that itself looks like a macro is never expanded again.
"""

from __future__ import annotations

import re

# (value it takes, pattern); order does not matter, the alternatives never overlap
MACROS = (
    ("char", r"\{\{\s*char\s*\}\}"),
    ("char", r"<BOT>"),
    ("user", r"\{\{\s*user\s*\}\}"),
    ("user", r"<USER>"),
    ("original", r"\{\{\s*original\s*\}\}"),
)
_PATTERN = re.compile("|".join(f"({pattern})" for _, pattern in MACROS), re.IGNORECASE)

def expand(text: str, *, char: str, user: str, original: str = "") -> str:
    """`text` with every macro replaced. `{{original}}` takes `original` the first time and
    nothing after (SillyTavern's rule: the replaced instruction appears once); outside a
    card's system_prompt there is nothing it replaces, so callers leave `original` empty."""
    values = {"char": char, "user": user, "original": original}
    seen_original = False

    def swap(match: re.Match) -> str:
        nonlocal seen_original
        kind = MACROS[match.lastindex - 1][0]
        if kind == "original":
            first, seen_original = not seen_original, True
            return values["original"] if first else ""
        return values[kind]

    return _PATTERN.sub(swap, text)


def speaker_pattern(char_names: list[str]) -> re.Pattern:
    """A regex for `Speaker: text` at the start of a line of example dialogue. Group `user`
    or `char` says who speaks, `rest` is the text. Speakers are the macros and the
    character's names (some cards write `Aqua:` instead of `{{char}}:`); a full-width colon
    counts too. The person's name is not a speaker: a card's author never knows it."""

    def alternatives(kind: str, names: list[str]) -> str:
        literal = sorted({name.strip() for name in names if name.strip()}, key=len, reverse=True)
        return "|".join([pattern for k, pattern in MACROS if k == kind] + [re.escape(name) for name in literal])

    return re.compile(
        rf"^\s*(?:(?P<user>{alternatives('user', [])})|(?P<char>{alternatives('char', char_names)}))"
        r"\s*[:：]\s?(?P<rest>.*)$",
        re.IGNORECASE,
    )
