"""What an eval asks: held-out conversations cut at a reply (the prompt, and the data's reply as the reference),
from the run's heldout.jsonl or a prompts file.

A prompts file is JSON lines, each `{"messages": [...]}` (the reply to the last user message is asked for; a
trailing assistant message is the reference) or `{"prompt": "...", "reference"?: "...", "system"?: "..."}`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from hearth.errors import UserError
from hearth.jsonl import read_lines, read_rows


@dataclass(frozen=True)
class Prompt:
    messages: tuple[dict, ...]  # up to and including the user turn the reply answers
    reference: str  # the data's reply ("" when the prompts file gives none)

    @property
    def text(self) -> str:
        return self.messages[-1]["content"]

    @property
    def system(self) -> str:
        return "\n".join(m["content"] for m in self.messages if m["role"] == "system")

    def to_json(self) -> dict:
        return {"messages": list(self.messages), "reference": self.reference}


def _message_list(value, where: str) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise UserError("'messages' must be a non-empty list", where=where)
    for message in value:
        if not (isinstance(message, dict) and message.get("role") in ("system", "user", "assistant")
                and isinstance(message.get("content"), str)):
            raise UserError("each message needs a role (system, user or assistant) and a string content", where=where)
    return [{"role": m["role"], "content": m["content"]} for m in value]


def first_reply_prompt(messages: list[dict]) -> Prompt | None:
    """The conversation up to its first assistant reply, with that reply as the reference."""
    at = next((i for i, m in enumerate(messages) if m["role"] == "assistant"), None)
    if at is None or at == 0 or messages[at - 1]["role"] != "user":
        return None
    return Prompt(tuple(messages[:at]), messages[at]["content"])


def _prompt_from_row(row, where: str) -> Prompt:
    if not isinstance(row, dict):
        raise UserError("each line must be a JSON object with 'messages' or 'prompt'", where=where)
    if "messages" in row:
        messages = _message_list(row["messages"], where)
        reference = ""
        if messages[-1]["role"] == "assistant":
            reference = messages.pop()["content"]
        if not messages or messages[-1]["role"] != "user":
            raise UserError("the messages must end with a user turn (and optionally the reference reply)", where=where)
        return Prompt(tuple(messages), reference)
    if isinstance(row.get("prompt"), str) and row["prompt"].strip():
        system = row.get("system")
        reference = row.get("reference", "")
        if not isinstance(reference, str) or (system is not None and not isinstance(system, str)):
            raise UserError("'reference' and 'system' must be strings", where=where)
        head = [{"role": "system", "content": system}] if system else []
        return Prompt(tuple([*head, {"role": "user", "content": row["prompt"]}]), reference)
    raise UserError("each line needs 'messages' or a non-empty 'prompt'", where=where)


def load_prompts_file(path: str | Path) -> list[Prompt]:
    prompts = [_prompt_from_row(line.row, line.where) for line in read_rows(path, what="prompts file")]
    if not prompts:
        raise UserError("the prompts file has no prompts", where=str(path))
    return prompts


def read_conversations(path: Path) -> list[list[dict]]:
    """The conversations of a heldout.jsonl (as training wrote it)."""
    conversations = []
    for line in read_lines(path, what="held-out file"):
        if line.problem or not isinstance(line.row, dict):
            raise UserError("not a held-out conversation ({\"messages\": [...]})", where=line.where)
        conversations.append(_message_list(line.row.get("messages"), line.where))
    return conversations


def choose(prompts: list, n: int, seed: int) -> list:
    """`n` of them, the same ones for the same seed, in their file order."""
    if n >= len(prompts):
        return list(prompts)
    picked = sorted(random.Random(seed).sample(range(len(prompts)), n))
    return [prompts[i] for i in picked]
