"""Kept chats → a training file in `messages` format, ready for `hearth train --data` (the loop
closes: conversations become new data).

Each chat becomes one line `{"messages": [system?, user, assistant, …]}` shaped the way the tuner
accepts it: the chat's system prompt first, then turns alternating from the user's, ending on a
reply. So the persona's greeting before the first user turn is left out, a cancelled reply is
dropped, consecutive messages of one side are joined, and an unanswered last message is cut.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hearth.errors import UserError
from hearth.jsonl import write_rows

from companion.engine import CANCELLED
from companion.history import HistoryStore, StoredMessage


@dataclass
class ExportSummary:
    written: list[int] = field(default_factory=list)  # chat ids
    skipped: dict[int, str] = field(default_factory=dict)  # chat id -> why
    turns: int = 0


def trains(message: StoredMessage) -> bool:
    """Whether a stored message is part of what training sees (a cancelled reply or an empty one is not)."""
    if message.role not in ("user", "assistant") or not message.content.strip():
        return False
    return not (message.role == "assistant" and message.stats.get("finish_reason") == CANCELLED)


def _turns(stored: list[StoredMessage]) -> list[dict]:
    turns: list[dict] = []
    for message in filter(trains, stored):
        if not turns and message.role == "assistant":
            continue  # the greeting: training conversations start with the user
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"] += "\n" + message.content
        else:
            turns.append({"role": message.role, "content": message.content})
    return turns


def _with_system(system_prompt: str, turns: list[dict]) -> list[dict]:
    return ([{"role": "system", "content": system_prompt}] if system_prompt.strip() else []) + turns


def training_messages(system_prompt: str, stored: list[StoredMessage]) -> list[dict]:
    turns = _turns(stored)
    if turns and turns[-1]["role"] == "user":
        turns.pop()
    return _with_system(system_prompt, turns) if turns else []


def prompt_messages(system_prompt: str, before: list[StoredMessage]) -> list[dict]:
    """The prompt a reply after the messages `before` trains on: the same rendering as `training_messages`
    (so the same as that chat's SFT row up to the reply), ending on the user's turn; [] when it does not."""
    turns = _turns(before)
    return _with_system(system_prompt, turns) if turns and turns[-1]["role"] == "user" else []


def export_dataset(store: HistoryStore, out_path: str | os.PathLike, chat_ids: list[int] | None = None) -> ExportSummary:
    """Write the named chats (default: every kept chat) as JSONL; the file appears whole or not at all."""
    records = [store.chat(i) for i in chat_ids] if chat_ids else store.chats(kept_only=True)
    if not records:
        raise UserError("no kept chats to export; keep one with /save in `hearth chat`, or name them with --chats")
    summary = ExportSummary()
    rows: list[dict] = []
    for record in sorted(records, key=lambda r: r.id):
        messages = training_messages(record.system_prompt, store.messages(record.id))
        if not messages:
            summary.skipped[record.id] = "no completed exchange"
            continue
        rows.append({"messages": messages})
        summary.written.append(record.id)
        summary.turns += sum(1 for m in messages if m["role"] == "assistant")
    if not rows:
        raise UserError("none of the chosen chats has a completed exchange to learn from")
    write_rows(out_path, rows)
    return summary
