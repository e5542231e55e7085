"""One conversation: who the companion is (a persona's prompt), the engine that speaks, the budget
that fits the prompt into the context, and the history that remembers it.

Writes follow the turn: the user's message is stored when it is sent, the reply when it completes
(a cancelled reply is stored with what was said so far; an empty one is not stored). `/retry`
replaces the last reply, `/undo` takes back the last exchange, `/new` starts a fresh chat.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator

from hearth.errors import UserError

from companion.budget import ContextBudget, FittedPrompt, PromptParts
from companion.engine import CANCELLED, Engine, Reply, ReplyStream
from companion.history import HistoryStore
from companion.reasoning import Chunk

# How many recent messages a lorebook scans for its keys.
LORE_SCAN_MESSAGES = 6


@dataclass
class Turn:
    role: str
    content: str
    reasoning: str = ""
    position: int | None = None  # in the stored chat
    stats: dict = field(default_factory=dict)

    def as_chat_message(self) -> dict:
        return {"role": self.role, "content": self.content}


class TurnStream:
    """A reply being generated for the session: iterate for chunks; `reply` and `fitted` afterwards."""

    def __init__(self, stream: ReplyStream, fitted: FittedPrompt, on_done: Callable[[Reply], None]):
        self._stream = stream
        self.fitted = fitted
        self._on_done = on_done

    @property
    def reply(self) -> Reply | None:
        return self._stream.reply

    def cancel(self) -> None:
        self._stream.cancel()

    def __iter__(self) -> Iterator[Chunk]:
        try:
            yield from self._stream
        finally:
            if self._stream.reply is not None:
                self._on_done(self._stream.reply)

    def consume(self) -> Reply:
        for _ in self:
            pass
        return self.reply


class ChatSession:
    def __init__(
        self,
        engine: Engine,
        store: HistoryStore | None = None,
        persona=None,
        persona_name: str = "",
        user_name: str = "你",
        chat_id: int | None = None,
        system_prompt: str = "",
    ):
        """`persona` is a `personas.prompt.PersonaPrompt`; without one, `system_prompt` (may be empty)."""
        self.engine = engine
        self._plain_system = system_prompt
        self.store = store
        self.persona = persona
        self.persona_name = persona_name
        self.user_name = user_name
        self.budget = ContextBudget(
            engine.n_ctx, engine.settings.max_reply_tokens, engine.count_text, engine.count_prompt
        )
        self.turns: list[Turn] = []
        self.chat_id = chat_id
        self.last_fitted: FittedPrompt | None = None
        if chat_id is None:
            self.new()

    # -- building ---------------------------------------------------------------------------------

    @classmethod
    def with_card(cls, engine: Engine, store: HistoryStore | None, card, user_name: str = "你", **kwargs):
        from personas.prompt import render_persona

        return cls(engine, store, persona=render_persona(card, user_name=user_name), persona_name=card.name,
                   user_name=user_name, **kwargs)

    @classmethod
    def resume(cls, engine: Engine, store: HistoryStore, chat_id: int, persona=None, user_name: str = "你"):
        """Continue a stored chat. Without a persona prompt the chat's stored system prompt is used."""
        record = store.chat(chat_id)
        session = cls(engine, store, persona=persona, persona_name=record.persona, user_name=user_name,
                      chat_id=chat_id, system_prompt=record.system_prompt)
        session.turns = [
            Turn(m.role, m.content, m.reasoning, m.position, m.stats) for m in store.messages(chat_id)
        ]
        return session

    @property
    def system_prompt(self) -> str:
        return self.persona.system if self.persona is not None else self._plain_system

    def new(self) -> int | None:
        """Start a fresh chat (with the persona's greeting, when it has one)."""
        self.turns = []
        self.chat_id = None
        if self.store is not None:
            self.chat_id = self.store.create_chat(
                persona=self.persona_name,
                model=str(self.engine.settings.model_path),
                system_prompt=self.system_prompt,
                settings=self.engine.settings.to_dict(),
            )
        greeting = getattr(self.persona, "greeting", "") if self.persona is not None else ""
        if greeting:
            self._append(Turn("assistant", greeting))
        return self.chat_id

    def set_persona(self, persona, persona_name: str) -> int | None:
        """Talk to someone else: a new chat with that persona."""
        self.persona, self.persona_name = persona, persona_name
        return self.new()

    # -- turns ----------------------------------------------------------------------------------

    def send(self, text: str, cancel: threading.Event | None = None) -> TurnStream:
        text = text.strip()
        if not text:
            raise UserError("the message is empty; type something to say")
        self._append(Turn("user", text))
        return self._reply(cancel)

    def retry(self, cancel: threading.Event | None = None) -> TurnStream:
        """Replace the last reply with a new one."""
        if self.turns and self.turns[-1].role == "assistant" and self._has_user_turn():
            self._drop_from(len(self.turns) - 1)
        if not self.turns or self.turns[-1].role != "user":
            raise UserError("nothing to retry yet: send a message first")
        return self._reply(cancel)

    def undo(self) -> int:
        """Take back the last user message and its reply; returns how many messages were removed."""
        for index in range(len(self.turns) - 1, -1, -1):
            if self.turns[index].role == "user":
                removed = len(self.turns) - index
                self._drop_from(index)
                return removed
        raise UserError("nothing to undo: no message of yours in this chat")

    def keep(self, title: str = "") -> None:
        """Mark this chat as one to learn from (`hearth history export-dataset`)."""
        if self.store is None:
            raise UserError("this chat is not being stored, so it cannot be kept")
        fields = {"kept": True, **({"title": title} if title else {})}
        self.store.update_chat(self.chat_id, **fields)

    def prompt_parts(self) -> PromptParts:
        persona = self.persona
        history = [t.as_chat_message() for t in self.turns]
        note_parts: list[str] = []
        if persona is not None:
            recent = [t.content for t in self.turns[-LORE_SCAN_MESSAGES:]]
            note_parts += list(persona.lore_for(recent))
            if persona.post_history:
                note_parts.append(persona.post_history)
        return PromptParts(
            system=self.system_prompt,
            examples=list(persona.examples) if persona is not None else [],
            history=history,
            note="\n\n".join(p for p in note_parts if p),
        )

    # -- internals ------------------------------------------------------------------------------

    def _has_user_turn(self) -> bool:
        return any(t.role == "user" for t in self.turns)

    def _reply(self, cancel: threading.Event | None) -> TurnStream:
        fitted = self.budget.fit(self.prompt_parts())
        self.last_fitted = fitted
        stream = self.engine.stream(fitted.messages, cancel=cancel)
        return TurnStream(stream, fitted, self._save_reply)

    def _save_reply(self, reply: Reply) -> None:
        if not reply.text and not reply.reasoning and reply.finish_reason == CANCELLED:
            return  # nothing was said; the user's message waits for /retry
        self._append(Turn("assistant", reply.text, reply.reasoning, stats=reply.stats()))

    def _append(self, turn: Turn) -> None:
        if self.store is not None:
            stored = self.store.add_message(self.chat_id, turn.role, turn.content, turn.reasoning, turn.stats)
            turn.position = stored.position
        self.turns.append(turn)

    def _drop_from(self, index: int) -> None:
        dropped = self.turns[index:]
        del self.turns[index:]
        if self.store is not None and dropped and dropped[0].position is not None:
            self.store.delete_messages_from(self.chat_id, dropped[0].position)
