"""The behaviour measures of an eval: pure functions of a reply and what it is judged against, one row each in
`MEASURES` with its one-line definition (shown in eval.md and the tables).

Every measure is also taken on the data's own reference replies; a side is "closer to the data" on a measure
when its value is nearer the data's value than the other side's. So the measures need no thresholds of their
own: a persona whose data speaks in long replies is not punished for long replies.

Style is chrF (character n-gram F-score, n = 1..3) against the reference reply to the same prompt: it needs no
tokenizer, so it works the same for Chinese and English, and it rewards what a voice is made of at the surface —
its words, particles, punctuation, *actions* in asterisks and its script — more than a shared topic would.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from hearth.behaviour import LOOP_SHARE, identity_slips, loops, repeated_ngram_share, text_units, user_turn_lines
from hearth.language import text_language

CHRF_ORDER = 3
ORIENTATIONS = {"正位": ("正位", "upright"), "逆位": ("逆位", "reversed", "reverse")}
ORIENTATION_REACH = 16  # characters after a card's name where its orientation must be named to count
# A drawn card as tuner/formats.py writes it in the prompt: optional "position：", the name, "(正位)" / "(逆位)".
_CARD = re.compile(r"(?:(?P<position>[^、，,：:()（）\n]{1,12})[：:])?\s*(?P<name>[^、，,：:()（）\n]{1,20}?)\s*"
                   r"[(（](?P<orientation>正位|逆位)[)）]")
_CARDS_LINE = re.compile(r"(?:抽到的牌|cards)\s*[：:](?P<cards>[^\n]+)", re.IGNORECASE)
_PERSON = re.compile(r"咨询者\s*[：:]\s*(?P<name>[^\n]+)")


@dataclass(frozen=True)
class Card:
    name: str
    orientation: str  # 正位 or 逆位
    position: str = ""


@dataclass(frozen=True)
class Reply:
    """One side's answer to one prompt."""

    text: str
    stopped: bool = True  # ended on the end-of-turn token within the reply budget
    tokens: int = 0

    def to_json(self) -> dict:
        return {"text": self.text, "stopped": self.stopped, "tokens": self.tokens}


@dataclass(frozen=True)
class Context:
    """What a reply is judged against: the data's reply to the same prompt and what the run says about itself."""

    reference: str
    language: str = "en"  # the data's language (hearth.language)
    persona: str = ""  # the persona's own words (system prompt): what it claims is no slip
    user_names: tuple[str, ...] = ()
    cards: tuple[Card, ...] = ()
    median_units: float = 0.0  # the data's median reply length, in text units


def drawn_cards(prompt: str) -> tuple[Card, ...]:
    """The cards a tarot prompt lists (its 抽到的牌 line), with orientation and position when written."""
    from tuner.formats import tarot_prompt_cards  # the reading prompt's own reader: both languages, positions

    listed = tarot_prompt_cards(prompt)
    if listed and all(c.position for c in listed):
        return tuple(Card(c.name, "逆位" if c.reversed else "正位", c.position) for c in listed)
    line = _CARDS_LINE.search(prompt)
    written = tuple(Card(m["name"].strip(), m["orientation"], (m["position"] or "").strip())
                    for m in _CARD.finditer(line["cards"])) if line else ()
    # the seed's original format without positions (an English one is not matched by the line pattern)
    return written or tuple(Card(c.name, "逆位" if c.reversed else "正位") for c in listed)


def prompt_user_names(prompt: str) -> tuple[str, ...]:
    """Who the user is, when the prompt says (a tarot prompt's 咨询者)."""
    match = _PERSON.search(prompt)
    return (match["name"].strip(),) if match else ()


def _chrf(hypothesis: str, reference: str, order: int = CHRF_ORDER) -> float:
    """Character n-gram F1 averaged over n = 1..order, whitespace ignored; 0 when either text is empty."""
    hyp, ref = re.sub(r"\s+", "", hypothesis), re.sub(r"\s+", "", reference)
    scores = []
    for n in range(1, order + 1):
        h = Counter(hyp[i:i + n] for i in range(len(hyp) - n + 1))
        r = Counter(ref[i:i + n] for i in range(len(ref) - n + 1))
        if not h or not r:
            continue
        overlap = sum((h & r).values())
        precision, recall = overlap / sum(h.values()), overlap / sum(r.values())
        scores.append(2 * precision * recall / (precision + recall) if overlap else 0.0)
    return sum(scores) / order if scores else 0.0


def _names_card(text: str, card: Card) -> bool:
    return card.name.casefold() in text.casefold()  # English readings write "the Star" mid-sentence


def _names_orientation(text: str, card: Card) -> bool:
    words = ORIENTATIONS[card.orientation]
    for match in re.finditer(re.escape(card.name), text, re.IGNORECASE):
        after = text[match.end():match.end() + ORIENTATION_REACH].lower()
        if any(word in after for word in words):
            return True
    return False


def _share(cards, test) -> float | None:
    return sum(1 for card in cards if test(card)) / len(cards) if cards else None


def ends_by_itself(reply: Reply, _ctx: Context) -> float:
    return 1.0 if reply.stopped else 0.0


def speaks_for_user(reply: Reply, ctx: Context) -> float:
    return 1.0 if user_turn_lines(reply.text, ctx.user_names) else 0.0


def slips_identity(reply: Reply, ctx: Context) -> float | None:
    if not ctx.persona.strip():
        return None  # no persona: claiming to be an assistant is what the run asks for
    return 1.0 if identity_slips(reply.text, ctx.persona) else 0.0


def language_match(reply: Reply, ctx: Context) -> float | None:
    if not reply.text.strip():
        return 0.0
    return 1.0 if text_language(reply.text) == ctx.language else 0.0


def repetition(reply: Reply, _ctx: Context) -> float:
    return repeated_ngram_share(reply.text)


def looping(reply: Reply, _ctx: Context) -> float:
    return 1.0 if loops(reply.text) else 0.0


def length_ratio(reply: Reply, ctx: Context) -> float | None:
    if ctx.median_units <= 0:
        return None
    return len(text_units(reply.text)) / ctx.median_units


def style(reply: Reply, ctx: Context) -> float | None:
    return _chrf(reply.text, ctx.reference) if ctx.reference.strip() else None


def tarot_cards(reply: Reply, ctx: Context) -> float | None:
    return _share(ctx.cards, lambda card: _names_card(reply.text, card))


def tarot_orientations(reply: Reply, ctx: Context) -> float | None:
    return _share(ctx.cards, lambda card: _names_orientation(reply.text, card))


def tarot_positions(reply: Reply, ctx: Context) -> float | None:
    return _share([c for c in ctx.cards if c.position], lambda card: card.position.casefold() in reply.text.casefold())


def _abs_distance(value: float, data: float) -> float:
    return abs(value - data)


def _log_distance(value: float, data: float) -> float:
    """Twice as long and half as long are equally far from the data."""
    return abs(math.log(max(value, 1e-3) / max(data, 1e-3)))


@dataclass(frozen=True)
class Measure:
    name: str
    label: str
    definition: str
    per_reply: Callable[[Reply, Context], float | None]
    aggregate: Callable[[list[float]], float] = statistics.fmean
    distance: Callable[[float, float], float] = field(default=_abs_distance)
    percent: bool = True  # shown as a share


MEASURES: tuple[Measure, ...] = (
    Measure("ends_by_itself", "ends by itself",
            "share of replies that end on the end-of-turn token within the reply budget", ends_by_itself),
    Measure("speaks_for_user", "speaks for the user",
            "share of replies with a line that opens the user's turn (User:, 你：, {{user}}:, the user's name, "
            "a chat-template user header)", speaks_for_user),
    Measure("identity_slips", "identity slips",
            "share of replies that claim to be an AI assistant or name a base model (SmolLM, Qwen, DeepSeek…) "
            "when the persona does not", slips_identity),
    Measure("language_match", "language match",
            "share of replies written in the data's language (zh or en, by their share of CJK characters)",
            language_match),
    Measure("repetition", "repetition",
            "mean share of a reply's word/character 3-grams that repeat an earlier one", repetition),
    Measure("loops", "loops", f"share of replies that go round in circles (repetition of at least {LOOP_SHARE:.0%})",
            looping),
    Measure("length", "length vs data",
            "median reply length over the data's median reply length (words, or characters of CJK text)",
            length_ratio, aggregate=statistics.median, distance=_log_distance, percent=False),
    Measure("style", "style (chrF)",
            "character 1–3-gram F-score against the data's reply to the same prompt", style),
    Measure("tarot_cards", "cards named", "share of the drawn cards the reading names", tarot_cards),
    Measure("tarot_orientations", "orientations named",
            "share of the drawn cards named with their orientation (正位/逆位, upright/reversed) just after",
            tarot_orientations),
    Measure("tarot_positions", "positions named", "share of the drawn cards' spread positions the reading names",
            tarot_positions),
)
MEASURES_BY_NAME = {m.name: m for m in MEASURES}


def side_value(measure: Measure, replies: list[Reply], contexts: list[Context]) -> float | None:
    """The measure over one side's replies (None when it applies to none of them)."""
    values = [v for v in (measure.per_reply(r, c) for r, c in zip(replies, contexts)) if v is not None]
    return float(measure.aggregate(values)) if values else None


def closer_side(measure: Measure, data: float | None, a: tuple[str, float | None], b: tuple[str, float | None],
                tolerance: float = 1e-9) -> str | None:
    """Which of two sides is nearer the data's value ('tie' when equally near, None when it cannot be said)."""
    if data is None or a[1] is None or b[1] is None:
        return None
    da, db = measure.distance(a[1], data), measure.distance(b[1], data)
    if abs(da - db) <= tolerance:
        return "tie"
    return a[0] if da < db else b[0]


def median_units(references: list[str]) -> float:
    lengths = [len(text_units(r)) for r in references if r.strip()]
    return float(statistics.median(lengths)) if lengths else 0.0
