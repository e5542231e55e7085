"""Which language a text (or a run's data) is written in: the share of CJK characters among its letters.

One home for it because training (the data report), chat and tarot (which card and prompt to use) and eval
(does the reply match the data's language) all ask the same question and must answer it the same way.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

# Languages hearth ships data and prompts for. A text is "zh" when at least this share of its letters are CJK:
# Chinese roleplay text mixes in Latin names and *actions* freely, English text almost never has CJK.
LANGUAGES = ("zh", "en")
CJK_THRESHOLD = 0.3


def is_cjk(char: str) -> bool:
    """A CJK ideograph, kana or hangul character (not CJK punctuation, which both languages borrow)."""
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF  # unified ideographs
        or 0x3400 <= code <= 0x4DBF  # extension A
        or 0x20000 <= code <= 0x2EBEF  # extensions B-F
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0xAC00 <= code <= 0xD7AF  # hangul syllables
    )


def letter_counts(text: str) -> tuple[int, int]:
    """(CJK characters, Latin letters) in `text`; digits, punctuation and spaces count for neither."""
    cjk = latin = 0
    for char in text:
        if is_cjk(char):
            cjk += 1
        elif char.isalpha() and unicodedata.name(char, "").startswith("LATIN"):
            latin += 1
    return cjk, latin


def cjk_share(text: str) -> float:
    """CJK characters over CJK + Latin letters; 0.0 for a text with neither."""
    cjk, latin = letter_counts(text)
    return cjk / (cjk + latin) if cjk + latin else 0.0


def text_language(text: str) -> str:
    """"zh" or "en" for a text, by its CJK share."""
    return "zh" if cjk_share(text) >= CJK_THRESHOLD else "en"


def run_language(run_root: str | Path, default: str = "zh") -> str:
    """The language of a run's training data: `language` in its data report, else its held-out text, else `default`."""
    root = Path(run_root)
    report = root / "data-report.json"
    try:
        language = json.loads(report.read_text(encoding="utf-8")).get("language")
        if language in LANGUAGES:
            return language
    except (OSError, ValueError, AttributeError):
        pass
    heldout = root / "heldout.jsonl"
    try:
        lines = heldout.read_text(encoding="utf-8")[:200_000].splitlines()
    except OSError:
        return default
    text = " ".join(_strings(_json_or_none(line)) for line in lines)
    return text_language(text) if text.strip() else default


def _json_or_none(line: str):
    try:
        return json.loads(line)
    except ValueError:
        return None  # a cut last line, or not JSON at all: it just says nothing


def _strings(value) -> str:
    """Every string inside a JSON value, joined (the file may escape CJK as \\uXXXX, so read it as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(_strings(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_strings(v) for v in value)
    return ""
