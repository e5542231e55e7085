"""Dataset row formats, table-driven: how to recognise each one and turn a row into chat `messages`.

Every format becomes `[{"role": "system"|"user"|"assistant", "content": str}, ...]`. A row that does not
fit raises `RowError` with the reason; nothing is silently repaired.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


class RowError(ValueError):
    """Why one row was rejected (the loader adds the file and line)."""


ROLES = ("system", "user", "assistant")
# ShareGPT speaker names -> chat roles.
SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}

TAROT_INSTRUCTION = (
    "作为专业塔罗师，请为以下咨询提供解读：\n\n"
    "咨询者：{person}\n"
    "问题：{question}\n"
    "牌阵：{spread}\n"
    "抽到的牌：{cards}\n\n"
    "请运用深度推理能力进行专业解读。"
)
TAROT_ORIENTATION = {False: "正位", True: "逆位"}


def _text(row: dict, key: str, *, required: bool = True) -> str:
    value = row.get(key)
    if value is None:
        if required:
            raise RowError(f"missing field '{key}'")
        return ""
    if not isinstance(value, str):
        raise RowError(f"field '{key}' must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise RowError(f"field '{key}' is empty")
    return value


def validate_messages(messages) -> list[dict]:
    """A conversation: optional system first, then user/assistant alternating, ending on assistant."""
    if not isinstance(messages, list) or not messages:
        raise RowError("'messages' must be a non-empty list")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RowError(f"message {i} is not an object")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise RowError(f"message {i} has role {role!r}; expected one of {', '.join(ROLES)}")
        if not isinstance(content, str) or not content.strip():
            raise RowError(f"message {i} ({role}) has no text")
        out.append({"role": role, "content": content})
    turns = out[1:] if out[0]["role"] == "system" else out
    if not turns:
        raise RowError("the conversation has only a system message")
    for i, message in enumerate(turns):
        expected = "user" if i % 2 == 0 else "assistant"
        if message["role"] != expected:
            raise RowError(f"turn {i + 1} is from {message['role']}, expected {expected} (turns must alternate, starting with user)")
    if turns[-1]["role"] != "assistant":
        raise RowError("the last turn is from the user: there is no reply to learn")
    return out


def _with_system(row: dict, messages: list[dict]) -> list[dict]:
    system = row.get("system")
    if system:
        if not isinstance(system, str):
            raise RowError("field 'system' must be a string")
        messages = [{"role": "system", "content": system}, *messages]
    return messages


def from_messages(row: dict) -> list[dict]:
    return validate_messages(row.get("messages"))


def from_sharegpt(row: dict) -> list[dict]:
    turns = row.get("conversations")
    if not isinstance(turns, list) or not turns:
        raise RowError("'conversations' must be a non-empty list")
    messages = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            raise RowError(f"conversation turn {i} is not an object")
        speaker = turn.get("from")
        if speaker not in SHAREGPT_ROLES:
            raise RowError(f"conversation turn {i} is from {speaker!r}; expected one of {', '.join(SHAREGPT_ROLES)}")
        messages.append({"role": SHAREGPT_ROLES[speaker], "content": turn.get("value")})
    return validate_messages(_with_system(row, messages))


def from_alpaca(row: dict) -> list[dict]:
    instruction = _text(row, "instruction")
    extra = _text(row, "input", required=False)
    prompt = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    return validate_messages(_with_system(row, [{"role": "user", "content": prompt}, {"role": "assistant", "content": _text(row, "output")}]))


def tarot_card_text(card) -> str:
    """`愚人(正位)` as written, or {"card": "愚人", "reversed": true} -> `愚人(逆位)`."""
    if isinstance(card, str) and card.strip():
        return card.strip()
    if isinstance(card, dict) and isinstance(card.get("card"), str) and card["card"].strip():
        return f"{card['card'].strip()}({TAROT_ORIENTATION[bool(card.get('reversed'))]})"
    raise RowError(f"a card must be a name like '愚人(正位)' or {{\"card\": ..., \"reversed\": ...}}, got {card!r}")


def tarot_prompt(person: str, question: str, spread: str, cards) -> str:
    if isinstance(cards, str):
        cards = [c for c in cards.replace("，", "、").replace(",", "、").split("、") if c.strip()]
    if not isinstance(cards, list) or not cards:
        raise RowError("'cards' must be a non-empty list")
    return TAROT_INSTRUCTION.format(person=person, question=question, spread=spread, cards="、".join(tarot_card_text(c) for c in cards))


def from_tarot(row: dict) -> list[dict]:
    prompt = tarot_prompt(_text(row, "person"), _text(row, "question"), _text(row, "spread"), row.get("cards"))
    return validate_messages(_with_system(row, [{"role": "user", "content": prompt}, {"role": "assistant", "content": _text(row, "reading")}]))


@dataclass(frozen=True)
class RowFormat:
    name: str
    keys: frozenset[str]  # a row that has all of these is taken to be in this format
    to_messages: Callable[[dict], list[dict]]
    description: str


FORMATS = (
    RowFormat("messages", frozenset({"messages"}), from_messages, "chat messages: {messages: [{role, content}, ...]}"),
    RowFormat("sharegpt", frozenset({"conversations"}), from_sharegpt, "ShareGPT: {conversations: [{from: human|gpt, value}, ...]}"),
    RowFormat("alpaca", frozenset({"instruction", "output"}), from_alpaca, "Alpaca: {instruction, input?, output}"),
    RowFormat("tarot", frozenset({"person", "question", "spread", "cards", "reading"}), from_tarot, "tarot reading: {person, question, spread, cards, reading}"),
)
FORMATS_BY_NAME = {f.name: f for f in FORMATS}


def detect_format(row: dict) -> RowFormat | None:
    if not isinstance(row, dict):
        return None
    return next((f for f in FORMATS if f.keys <= row.keys()), None)
