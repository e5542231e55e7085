"""What a reply does that the person did not train it to: it writes the user's turn, claims to be the base model
or an AI assistant, or repeats itself in a loop. Pure text checks with one home, because eval measures them on
every side (tuner/evaluate) and export warns about them on the model it verifies (exporter/verify.py).
"""

from __future__ import annotations

import re

from hearth.language import is_cjk

# The base models' own names and the assistant self-description they were tuned into. Latin names need word
# boundaries ("Phi" is in "Philosophy"); Chinese ones are matched as written.
BASE_NAMES = ("SmolLM", "Qwen", "DeepSeek", "Llama", "ChatGPT", "OpenAI", "Hugging Face", "Mistral", "Gemma",
              "Claude", "Anthropic")
BASE_NAMES_ZH = ("通义千问", "千问", "深度求索")
AI_CLAIMS = (
    r"\bAI assistant\b", r"\blanguage model\b", r"\bas an AI\b", r"\bchatbot\b",
    r"\bI(?:'m| am) (?:an? )?(?:AI|artificial intelligence|virtual assistant)\b",
    r"我是(?:一个|一名|一款)?(?:AI|人工智能|语言模型|智能助手|虚拟助手|聊天机器人)",
    r"人工智能助手", r"AI助手", r"语言模型",
)
NAME_PATTERNS = tuple(re.compile(rf"\b{re.escape(name)}", re.IGNORECASE) for name in BASE_NAMES) + tuple(
    re.compile(re.escape(name)) for name in BASE_NAMES_ZH)
CLAIM_PATTERNS = tuple(re.compile(p, re.IGNORECASE) for p in AI_CLAIMS)
_ASSISTANT_PERSONA = re.compile(r"\bAI\b|assistant|助手|人工智能", re.IGNORECASE)

# A line that opens the user's turn: a speaker label, a card's {{user}} macro, or a chat template's user header
# (with its special tokens shown, or hidden so only the bare role word is left on its line).
USER_LABELS = ("user", "human", "you", "me", "用户", "你", "{{user}}", "<user>")
USER_HEADERS = (r"<\|im_start\|>\s*user", r"<\|start_header_id\|>\s*user", r"<\|user\|>", r"\[INST\]")
LINE_STARTS = (r"#{2,}\s*(?:user|human|instruction)\b", r"user\s*$")
_LINE_MARKUP = re.compile(r"^[\s*_>#\-\"'“「【\[(（]*")
LOOP_SHARE = 0.5  # a reply whose repeated n-gram share reaches this is going round in circles
LOOP_MIN_UNITS = 12  # shorter replies are too short to call a loop
NGRAM = 3


def identity_slips(reply: str, persona: str = "") -> list[str]:
    """The identity claims in `reply` (base model names, "AI assistant", 我是AI…) that the persona itself does not
    make: a base name counts unless the persona names it, and a claim to be an AI unless the persona is one."""
    persona = persona or ""
    patterns = [p for p in NAME_PATTERNS if not p.search(persona)]
    if not _ASSISTANT_PERSONA.search(persona):
        patterns += CLAIM_PATTERNS
    return [m.group(0) for m in (p.search(reply) for p in patterns) if m]

_HEADERS = tuple(re.compile(h, re.IGNORECASE) for h in USER_HEADERS)


def _line_start_patterns(user_names) -> list[re.Pattern]:
    labels = [*USER_LABELS, *(name for name in user_names if name)]
    label = "|".join(re.escape(name) for name in labels)
    return [re.compile(rf"(?:{label})\s*[:：]", re.IGNORECASE), *(re.compile(p, re.IGNORECASE) for p in LINE_STARTS)]


def user_turn_lines(reply: str, user_names=()) -> list[str]:
    """Lines of `reply` that start as the user's turn ("User:", "你：", "{{user}}:", the user's name and a colon, a
    bare "user" line) or hold a chat template's user header anywhere ("<|im_start|>user"): the model writing the
    other side of the conversation."""
    starts = _line_start_patterns(tuple(user_names))
    lines = []
    for line in reply.splitlines():
        bare = _LINE_MARKUP.sub("", line)
        if bare and (any(p.match(bare) for p in starts) or any(h.search(line) for h in _HEADERS)):
            lines.append(line.strip())
    return lines


def text_units(text: str) -> list[str]:
    """Words of Latin-script text and single characters of CJK text, lower-cased, punctuation dropped: the unit
    both length and repetition count in, so Chinese and English replies are measured alike."""
    units, word = [], []
    for char in text:
        if is_cjk(char) or not (char.isalnum() or char in "'’"):
            if word:
                units.append("".join(word).lower())
                word = []
            if is_cjk(char):
                units.append(char)
        else:
            word.append(char)
    if word:
        units.append("".join(word).lower())
    return units


def repeated_ngram_share(text: str, n: int = NGRAM) -> float:
    """The share of the reply's n-grams (of text units) that repeat an earlier one: 0 for text that never repeats,
    near 1 for a loop."""
    units = text_units(text)
    grams = [tuple(units[i:i + n]) for i in range(len(units) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


def loops(text: str) -> bool:
    units = text_units(text)
    return len(units) >= LOOP_MIN_UNITS and repeated_ngram_share(text) >= LOOP_SHARE
