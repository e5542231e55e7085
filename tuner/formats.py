"""Dataset row formats, table-driven: how to recognise each one and turn a row into chat `messages`.

Every format becomes `[{"role": "system"|"user"|"assistant", "content": str}, ...]`. A row that does not
fit raises `RowError` with the reason; nothing is silently repaired.
"""

from __future__ import annotations

import re
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


@dataclass(frozen=True)
class TarotWords:
    """How the reading prompt is written in one language. The prompt is one function of a tarot row
    (tarot_row_prompt), called by training on a row and by a live reading (spreads/reading.py) on the row
    it builds, so the model reads at inference exactly what it learned from."""

    instruction: str  # with {person} {question} {spread} {cards}; its last paragraph asks for the reading
    orientation: dict  # reversed? -> word
    card: str  # {name} {orientation}
    separator: str  # between cards on one line
    position: str  # one position per line: {number} {name} {card}
    position_meaning: str  # the same with the position's {meaning}
    history_title: str
    history_line: str  # {date} {spread} {question} {cards}; the rating appended when there is one
    rating: str  # {rating}


TAROT_WORDS = {
    "zh": TarotWords(
        instruction=TAROT_INSTRUCTION, orientation=TAROT_ORIENTATION, card="{name}({orientation})", separator="、",
        position="{number}. {name}：{card}", position_meaning="{number}. {name}（{meaning}）：{card}",
        history_title="咨询者以往的解读：", history_line="- {date} · {spread} · 问：{question} · 牌：{cards}",
        rating=" · 评分 {rating}/5",
    ),
    "en": TarotWords(
        instruction=(
            "As a professional tarot reader, give a reading for this consultation:\n\n"
            "Querent: {person}\n"
            "Question: {question}\n"
            "Spread: {spread}\n"
            "Cards drawn: {cards}\n\n"
            "Think it through carefully and give a professional reading."
        ),
        orientation={False: "upright", True: "reversed"}, card="{name} ({orientation})", separator=", ",
        position="{number}. {name}: {card}", position_meaning="{number}. {name} ({meaning}): {card}",
        history_title="The querent's earlier readings:",
        history_line="- {date} · {spread} · asked: {question} · cards: {cards}", rating=" · rated {rating}/5",
    ),
}


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
        if isinstance(content, list):
            raise RowError(f"message {i} ({role}) has content parts (a list); content parts are not supported — "
                           "give the message's text as one string")
        if content is not None and not isinstance(content, str):
            raise RowError(f"message {i} ({role}) content must be a string, got {type(content).__name__}")
        if not content or not content.strip():
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


def _tarot_words(language: str) -> TarotWords:
    if not isinstance(language, str) or language not in TAROT_WORDS:
        raise RowError(f"field 'language' must be one of {', '.join(TAROT_WORDS)}, got {language!r}")
    return TAROT_WORDS[language]


def card_text(name: str, reversed_: bool, language: str = "zh") -> str:
    """`愚人(逆位)` / `The Fool (reversed)`: a drawn card as prompts and training rows write it."""
    words = _tarot_words(language)
    return words.card.format(name=name.strip(), orientation=words.orientation[bool(reversed_)])


def tarot_card_text(card, language: str = "zh") -> str:
    """`愚人(正位)` as written, or {"card": "愚人", "reversed": true} -> `愚人(逆位)`."""
    if isinstance(card, str) and card.strip():
        return card.strip()
    if isinstance(card, dict) and isinstance(card.get("card"), str) and card["card"].strip():
        return card_text(card["card"], card.get("reversed"), language)
    raise RowError(f"a card must be a name like '愚人(正位)' or {{\"card\": ..., \"reversed\": ...}}, got {card!r}")


def _tarot_cards(cards, language: str) -> list[str]:
    if isinstance(cards, str):
        cards = [c for c in cards.replace("，", "、").replace(",", "、").split("、") if c.strip()]
    if not isinstance(cards, list) or not cards:
        raise RowError("'cards' must be a non-empty list")
    return [tarot_card_text(c, language) for c in cards]


def _position(entry, number: int) -> tuple[str, str]:
    """A position as a row writes it: its name, or {"name": ..., "meaning": ...}."""
    if isinstance(entry, str) and entry.strip():
        return entry.strip(), ""
    if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"].strip():
        meaning = entry.get("meaning") or ""
        if not isinstance(meaning, str):
            raise RowError(f"position {number}'s 'meaning' must be a string")
        return entry["name"].strip(), meaning.strip()
    raise RowError(f"position {number} must be a name or {{\"name\": ..., \"meaning\": ...}}, got {entry!r}")


def _cards_with_positions(cards: list[str], positions, words: TarotWords) -> str:
    if not isinstance(positions, list) or len(positions) != len(cards):
        raise RowError(f"'positions' must be a list with one position per card ({len(cards)})")
    lines = []
    for number, (entry, card) in enumerate(zip(positions, cards), start=1):
        name, meaning = _position(entry, number)
        line = words.position_meaning if meaning else words.position
        lines.append(line.format(number=number, name=name, meaning=meaning, card=card))
    return "\n" + "\n".join(lines)


def _history_block(history, words: TarotWords, language: str) -> str:
    """The querent's earlier readings, one line each, as the row gives them (already budgeted by its writer)."""
    if not isinstance(history, list):
        raise RowError("'history' must be a list of earlier readings")
    lines = [words.history_title]
    for number, entry in enumerate(history, start=1):
        if not isinstance(entry, dict):
            raise RowError(f"history entry {number} is not an object")
        fields = {key: _text(entry, key) for key in ("date", "spread", "question")}
        line = words.history_line.format(cards=words.separator.join(_tarot_cards(entry.get("cards"), language)), **fields)
        rating = entry.get("rating")
        if rating is not None:
            if isinstance(rating, bool) or not isinstance(rating, int):
                raise RowError(f"history entry {number}'s 'rating' must be a whole number")
            line += words.rating.format(rating=rating)
        lines.append(line)
    return "\n".join(lines)


def tarot_prompt(person: str, question: str, spread: str, cards, positions=None, history=None, language: str = "zh") -> str:
    """The reading prompt. With no positions and no history it is the seed's original prompt (a plain list of cards)."""
    words = _tarot_words(language)
    texts = _tarot_cards(cards, language)
    instruction = words.instruction
    if positions is None:
        listed = words.separator.join(texts)
    else:  # one position per line below the label, which then ends its line
        listed, instruction = _cards_with_positions(texts, positions, words), instruction.replace(" {cards}", "{cards}")
    prompt = instruction.format(person=person, question=question, spread=spread, cards=listed)
    if history:
        facts, ask = prompt.rsplit("\n\n", 1)  # the block goes before the closing request
        prompt = f"{facts}\n\n{_history_block(history, words, language)}\n\n{ask}"
    return prompt


def tarot_language(row: dict) -> str:
    """A row's `language`, else the language its question and reading are written in."""
    from hearth.language import text_language

    language = row.get("language")
    if language is None:
        return text_language(f"{row.get('question') or ''} {row.get('reading') or ''}")
    _tarot_words(language)  # refuses a language hearth has no prompt for
    return language


def tarot_row_prompt(row: dict) -> str:
    """The prompt of a tarot row; a live reading's row (no `reading` yet) gives the same prompt its training row will."""
    return tarot_prompt(
        _text(row, "person"), _text(row, "question"), _text(row, "spread"), row.get("cards"),
        positions=row.get("positions"), history=row.get("history"), language=tarot_language(row),
    )


@dataclass(frozen=True)
class PromptCard:
    """A card as a reading prompt lists it: its position (when the prompt names positions), name, orientation."""

    position: str
    name: str
    reversed: bool


def tarot_prompt_cards(prompt: str) -> list[PromptCard]:
    """The cards a reading prompt (tarot_prompt, either language) lists, read back: the inverse of the
    renderer, kept beside it so whoever measures readings (hearth eval) reads the one format there is."""
    for words in TAROT_WORDS.values():
        label = next(line for line in words.instruction.split("\n") if "{cards}" in line).replace("{cards}", "").strip()
        start = prompt.find(label)
        if start < 0:
            continue
        rest = prompt[start + len(label):]
        first, _, after = rest.partition("\n")
        if first.strip():  # the original format: one line, cards separated
            return [_prompt_card("", text, words) for text in first.split(words.separator.strip()) if text.strip()]
        lines = []
        for line in after.split("\n"):
            if not re.match(r"^\d+\. ", line):
                break
            lines.append(line)
        return [_positioned_card(line, words) for line in lines]
    return []


def _positioned_card(line: str, words: TarotWords) -> PromptCard:
    # "{number}. {name}（{meaning}）：{card}" / "{number}. {name} ({meaning}): {card}": the card follows the last colon.
    colon = words.position.split("{name}")[1].split("{card}")[0]
    head, _, card = line.rpartition(colon)
    name = re.sub(r"^\d+\. ", "", head)
    name = re.sub(r"\s*[(（][^()（）]*[)）]$", "", name)  # the position's meaning, when written
    return _prompt_card(name, card, words)


def _prompt_card(position: str, text: str, words: TarotWords) -> PromptCard:
    text = text.strip()
    for reversed_, word in words.orientation.items():
        suffix = words.card.format(name="", orientation=word).strip()
        if text.endswith(suffix):
            return PromptCard(position.strip(), text[: -len(suffix)].strip(), reversed_)
    return PromptCard(position.strip(), text, False)


def from_tarot(row: dict) -> list[dict]:
    prompt = tarot_row_prompt(row)
    return validate_messages(_with_system(row, [{"role": "user", "content": prompt}, {"role": "assistant", "content": _text(row, "reading")}]))


def _preference_prompt(row: dict) -> list[dict]:
    """A preference row's prompt: the conversation before the reply, as chat messages, ending on the user."""
    prompt = row.get("prompt")
    if not isinstance(prompt, list) or not prompt:
        raise RowError("'prompt' must be a non-empty list of messages (the conversation before the reply)")
    last = prompt[-1].get("role") if isinstance(prompt[-1], dict) else None
    if last != "user":
        raise RowError(f"the prompt ends on {last!r}; it must end on the user's turn the reply answers")
    return prompt


def _preference_reply(row: dict, key: str) -> dict:
    """`chosen`, `rejected` or `completion`: one assistant message, in a list as TRL's conversational format has it."""
    value = row.get(key)
    if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict)
            and value[0].get("role") == "assistant"):
        raise RowError(f"'{key}' must be one assistant message: [{{\"role\": \"assistant\", \"content\": ...}}]")
    content = value[0].get("content")
    if not isinstance(content, str) or not content.strip():
        raise RowError(f"'{key}' has no text")
    return {"role": "assistant", "content": content}


def from_preference(row: dict) -> list[dict]:
    """TRL's preference pair {prompt, chosen, rejected}; as a conversation it is the prompt and the chosen reply."""
    prompt = _preference_prompt(row)
    chosen, rejected = _preference_reply(row, "chosen"), _preference_reply(row, "rejected")
    if chosen["content"].strip() == rejected["content"].strip():
        raise RowError("'chosen' and 'rejected' are the same reply, so the pair prefers nothing")
    validate_messages(prompt + [rejected])
    return validate_messages(prompt + [chosen])


def from_kto(row: dict) -> list[dict]:
    """TRL's unpaired preference row {prompt, completion, label}: label true for a desirable reply."""
    if not isinstance(row.get("label"), bool):
        raise RowError(f"'label' must be true or false, got {row.get('label')!r}")
    return validate_messages(_preference_prompt(row) + [_preference_reply(row, "completion")])


@dataclass(frozen=True)
class RowFormat:
    name: str
    keys: frozenset[str]  # a row that has all of these is taken to be in this format
    to_messages: Callable[[dict], list[dict]]
    description: str
    preference: bool = False  # trains with a preference method (DPO, KTO), never as plain SFT


FORMATS = (
    RowFormat("messages", frozenset({"messages"}), from_messages, "chat messages: {messages: [{role, content}, ...]}"),
    RowFormat("sharegpt", frozenset({"conversations"}), from_sharegpt, "ShareGPT: {conversations: [{from: human|gpt, value}, ...]}"),
    RowFormat("alpaca", frozenset({"instruction", "output"}), from_alpaca, "Alpaca: {instruction, input?, output}"),
    RowFormat("tarot", frozenset({"person", "question", "spread", "cards", "reading"}), from_tarot, "tarot reading: {person, question, spread, cards, reading, positions?, history?, language?}"),
    RowFormat("preference", frozenset({"prompt", "chosen", "rejected"}), from_preference,
              "preference pair (TRL): {prompt: [messages], chosen: [assistant], rejected: [assistant]}", preference=True),
    RowFormat("kto", frozenset({"prompt", "completion", "label"}), from_kto,
              "unpaired preference (TRL KTO): {prompt: [messages], completion: [assistant], label: bool}", preference=True),
)
FORMATS_BY_NAME = {f.name: f for f in FORMATS}


def detect_format(row: dict) -> RowFormat | None:
    if not isinstance(row, dict):
        return None
    return next((f for f in FORMATS if f.keys <= row.keys()), None)


# The row formats each training method learns from ("sft": every format that is not a preference one). KTO takes
# pairs too: a pair is a desirable and an undesirable reply to the same prompt.
METHOD_FORMATS = {
    "sft": tuple(f.name for f in FORMATS if not f.preference),
    "dpo": ("preference",),
    "kto": ("kto", "preference"),
}
# What to say when a file's format does not suit the method: method -> advice.
METHOD_ADVICE = {
    "sft": "supervised fine-tuning learns every reply it is given, so train these with --method dpo or kto "
           "(or give `messages` rows: hearth history export-dataset)",
    "dpo": "DPO learns from pairs {prompt, chosen, rejected} (hearth history export-preferences); "
           "for rated replies without pairs use --method kto",
    "kto": "KTO learns from rated replies {prompt, completion, label} or from pairs "
           "(hearth history export-preferences writes both)",
}


def check_formats_for_method(formats: dict[str, str], method: str) -> None:
    """Every file's format must be one the method learns from: a preference file never trains as SFT (its
    rejected replies would be learned), and a DPO run needs pairs. Names the first file that does not fit."""
    from hearth.errors import UserError

    for path, name in formats.items():
        if name in FORMATS_BY_NAME and name not in METHOD_FORMATS[method]:
            raise UserError(f"this is {name} data, which {method.upper()} does not train on: {METHOD_ADVICE[method]}",
                            where=path)
