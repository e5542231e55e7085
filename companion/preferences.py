"""What a person chose, fixed and rated while chatting → preference data for TRL (`hearth history
export-preferences`).

- Pairs, TRL's conversational preference format `{"prompt": [messages…], "chosen": [reply], "rejected": [reply]}`:
  an edited reply over what it first said, and the alternative chosen (the one shown) over each other
  alternative /retry produced. Identical texts make no pair.
- Unpaired rows, TRL's KTO format `{"prompt": [messages…], "completion": [reply], "label": bool}`: a reply
  rated 4–5 is desirable, 1–2 undesirable (3 says neither). A reply without a rating of its own takes its
  chat's rating. The command adds rated tarot readings the same way (`unpaired_row`).

The prompt is the chat's SFT rendering up to the reply (companion.dataset_export.prompt_messages: the chat's
system prompt — the persona card as it was rendered — then its history), so training matches inference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hearth import jsonl
from hearth.errors import UserError
from hearth.user_paths import check_output_file

from companion.dataset_export import prompt_messages, trains
from companion.engine import CANCELLED
from companion.history import ChatRecord, HistoryStore, StoredMessage

DESIRABLE, UNDESIRABLE = 4, 2  # ratings at or above / at or below


def reply(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def label_of(rating: int | None) -> bool | None:
    """A rating as a KTO label: True (desirable), False (undesirable) or None (no signal)."""
    if rating is None or UNDESIRABLE < rating < DESIRABLE:
        return None
    return rating >= DESIRABLE


def unpaired_row(prompt: list[dict], completion: str, rating: int | None) -> dict | None:
    label = label_of(rating)
    if label is None or not prompt or not completion.strip():
        return None
    return {"prompt": prompt, "completion": reply(completion), "label": label}


@dataclass
class PreferenceRows:
    pairs: list[dict] = field(default_factory=list)
    unpaired: list[dict] = field(default_factory=list)
    chats: list[int] = field(default_factory=list)  # the chats that gave a row

    def extend(self, other: "PreferenceRows") -> None:
        self.pairs += other.pairs
        self.unpaired += other.unpaired
        self.chats += other.chats


def chat_rows(store: HistoryStore, record: ChatRecord) -> PreferenceRows:
    rows = PreferenceRows()
    messages = store.messages(record.id)
    for index, message in enumerate(messages):
        if message.role != "assistant" or not trains(message):
            continue
        prompt = prompt_messages(record.system_prompt, messages[:index])
        if prompt:
            _reply_rows(store, record, message, prompt, rows)
    if rows.pairs or rows.unpaired:
        rows.chats.append(record.id)
    return rows


def _reply_rows(store: HistoryStore, record: ChatRecord, message: StoredMessage, prompt: list[dict],
                rows: PreferenceRows) -> None:
    alternatives = store.alternatives(message.id)
    others = [a for a in alternatives if a.number != message.chosen and a.stats.get("finish_reason") != CANCELLED]
    rejected = [message.original or ""] + [a.content for a in others]
    for text in dict.fromkeys(rejected):  # once each, in order
        if text.strip() and text != message.content:
            rows.pairs.append({"prompt": prompt, "chosen": reply(message.content), "rejected": reply(text)})
    # The reply shown takes the chat's rating when it has none; the others only their own.
    rated = [(message.content, message.rating if message.rating is not None else record.rating)]
    rated += [(a.content, a.rating) for a in others]
    rows.unpaired += filter(None, (unpaired_row(prompt, text, rating) for text, rating in rated))


def collect(store: HistoryStore, chat_ids: list[int] | None = None, kept_only: bool = False) -> PreferenceRows:
    """The rows of the named chats (default: every chat, or every kept one)."""
    records = [store.chat(i) for i in chat_ids] if chat_ids else store.chats(kept_only=kept_only)
    rows = PreferenceRows()
    for record in sorted(records, key=lambda r: r.id):
        rows.extend(chat_rows(store, record))
    return rows


def write_rows(rows: PreferenceRows, pairs_out: str | os.PathLike, unpaired_out: str | os.PathLike) -> None:
    """Pairs to `pairs_out`, unpaired rows to `unpaired_out` (each file only when it has rows, whole or not at all).
    Both paths are checked before anything is written; with no row at all nothing is."""
    for path in (pairs_out, unpaired_out):
        check_output_file(path)
    if os.path.abspath(pairs_out) == os.path.abspath(unpaired_out):
        raise UserError("pairs and unpaired (KTO) rows are two formats and go to two files; give --kto another name",
                        where=str(unpaired_out))
    if not rows.pairs and not rows.unpaired:
        raise UserError("nothing to learn preferences from: no edited reply, no reply chosen among alternatives "
                        "(/retry, then /prev or /next) and no rated reply (/rate N) or reading")
    for path, lines in ((pairs_out, rows.pairs), (unpaired_out, rows.unpaired)):
        if lines:
            jsonl.write_rows(path, lines)
