"""One conversation: who the companion is (a persona's prompt), the engine that speaks, the budget
that fits the prompt into the context, and the history that remembers it.

Writes follow the turn: the user's message is stored when it is sent, the reply when it completes
(a cancelled reply is stored with what was said so far; an empty one is not stored). `/undo` takes
back the last exchange, `/new` starts a fresh chat.

Curation, what `hearth history export-preferences` learns from: `retry` keeps the earlier replies as
alternatives and shows the new one, `swipe` steps between them (the one shown is the one chosen),
`edit_reply` changes one of the companion's replies (the last unless a number is given; its first text
is kept), `rate_reply` and `rate_chat` rate 1–5, `keep` marks the chat kept (or not); `reply` and
`record` say what those act on. Replies are numbered from 1 in the order said (`replies`), the greeting
included: the numbers companion/chat_commands.py's `/edit N` and `/rate N R` take.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator

from hearth.errors import UserError

from companion.budget import ContextBudget, FittedPrompt, PromptParts
from companion.engine import CANCELLED, Engine, Reply, ReplyStream
from companion.history import Alternative, ChatRecord, HistoryStore, check_rating
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
    message_id: int | None = None
    original: str | None = None  # what an edited reply first said
    rating: int | None = None
    alternatives: list[Alternative] = field(default_factory=list)  # the replies /retry made here, when several
    chosen: int | None = None  # which of them is shown

    def show(self, number: int) -> None:
        alternative = self.alternatives[number]
        self.content, self.reasoning, self.stats = alternative.content, alternative.reasoning, alternative.stats
        self.original, self.rating, self.chosen = alternative.original, alternative.rating, number

    def shown(self) -> Alternative | None:
        return self.alternatives[self.chosen] if self.chosen is not None else None

    def as_chat_message(self) -> dict:
        return {"role": self.role, "content": self.content}


class TurnStream:
    """A reply being generated for the session: iterate for chunks; `reply` and `fitted` afterwards."""

    def __init__(self, stream: ReplyStream, fitted: FittedPrompt, on_done: Callable[[Reply], None], after: int):
        self._stream = stream
        self.fitted = fitted
        self._on_done = on_done
        self.after = after  # how many of the session's turns the reply follows (a retry: all but the last reply)

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
    def open(cls, engine: Engine, store: HistoryStore | None, chosen, resume: int | None = None) -> ChatSession:
        """The chat every front end opens: a new one with `chosen` (companion.persona_choice.chat_persona's card,
        greeting included), or chat `resume` continued with it (without a card: with its stored system prompt)."""
        if resume is not None:
            return cls.resume(engine, store, resume, persona=chosen.prompt, user_name=chosen.user_name)
        return cls(engine, store, persona=chosen.prompt, persona_name=chosen.name, user_name=chosen.user_name)

    @classmethod
    def resume(cls, engine: Engine, store: HistoryStore, chat_id: int, persona=None, user_name: str = "你"):
        """Continue a stored chat. Without a persona prompt the chat's stored system prompt is used."""
        record = store.chat(chat_id)
        session = cls(engine, store, persona=persona, persona_name=record.persona, user_name=user_name,
                      chat_id=chat_id, system_prompt=record.system_prompt)
        session.turns = [
            Turn(m.role, m.content, m.reasoning, m.position, m.stats, m.id, m.original, m.rating,
                 store.alternatives(m.id) if m.chosen is not None else [], m.chosen)
            for m in store.messages(chat_id)
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
        """Another reply to the last message; the earlier replies stay as alternatives (see `swipe`)."""
        if self.turns and self.turns[-1].role == "assistant" and self._has_user_turn():
            return self._reply(cancel, self.turns[:-1], self._save_alternative)
        if not self.turns or self.turns[-1].role != "user":
            raise UserError("nothing to retry yet: send a message first")
        return self._reply(cancel)

    def swipe(self, step: int) -> Turn:
        """Show the next (step 1) or previous (-1) alternative of the last reply, round the end: the one shown
        is the one chosen."""
        turn = self.turns[-1] if self.turns else None
        if turn is None or turn.role != "assistant" or len(turn.alternatives) < 2:
            raise UserError("the last reply has no alternatives yet; /retry makes one")
        number = (turn.chosen + step) % len(turn.alternatives)
        if self.store is not None:
            self.store.choose_alternative(turn.message_id, number)
        turn.show(number)
        return turn

    def edit_reply(self, text: str, number: int | None = None) -> Turn:
        """Change what the companion said in reply `number` (default: the last); the text it first had is
        kept as the original, as for any edit."""
        text = text.strip()
        if not text:
            raise UserError("the edited reply is empty; type the text the reply should have")
        turn = self.reply(number, "edit")
        if self.store is not None:
            self.store.edit_message(turn.message_id, text)
        for target in filter(None, (turn, turn.shown())):
            target.original = target.original if target.original is not None else target.content
            target.content = text
        return turn

    def rate_reply(self, rating: int, number: int | None = None) -> Turn:
        """Rate reply `number` (default: the last) 1–5."""
        check_rating(rating)
        turn = self.reply(number, "rate")
        if self.store is not None:
            self.store.rate_message(turn.message_id, rating)
        for target in filter(None, (turn, turn.shown())):
            target.rating = rating
        return turn

    def rate_chat(self, rating: int) -> None:
        check_rating(rating)
        self._require_store("rated").update_chat(self.chat_id, rating=rating)

    def undo(self) -> int:
        """Take back the last user message and its reply; returns how many messages were removed."""
        for index in range(len(self.turns) - 1, -1, -1):
            if self.turns[index].role == "user":
                removed = len(self.turns) - index
                self._drop_from(index)
                return removed
        raise UserError("nothing to undo: no message of yours in this chat")

    def keep(self, title: str = "", kept: bool = True) -> None:
        """Mark this chat as one to learn from (`hearth history export-dataset`), or no longer."""
        fields = {"kept": kept, **({"title": title} if title else {})}
        self._require_store("kept").update_chat(self.chat_id, **fields)

    def replies(self) -> list[Turn]:
        """The companion's replies in the order said: reply number n is `replies()[n - 1]`."""
        return [t for t in self.turns if t.role == "assistant"]

    def reply(self, number: int | None = None, verb: str = "use") -> Turn:
        """The companion's reply `number` (from 1; None: the last), what `edit_reply` and `rate_reply`
        change; `verb` names the refusal."""
        replies = self.replies()
        if not replies:
            raise UserError(f"no reply to {verb} yet: the companion has not said anything in this chat")
        if number is None:
            return replies[-1]
        if not 1 <= number <= len(replies):
            raise UserError(f"there is no reply #{number} to {verb}: the companion's {len(replies)} "
                            f"repl{'y is' if len(replies) == 1 else 'ies are'} numbered from 1")
        return replies[number - 1]

    def record(self) -> ChatRecord | None:
        """The chat as stored now (title, kept, rating); None when it is not being stored."""
        return self.store.chat(self.chat_id) if self.store is not None and self.chat_id is not None else None

    def prompt_parts(self, turns: list[Turn] | None = None) -> PromptParts:
        """The prompt's parts for a reply after `turns` (default: the whole chat)."""
        persona = self.persona
        turns = self.turns if turns is None else turns
        history = [t.as_chat_message() for t in turns]
        if persona is None:
            return PromptParts(system=self.system_prompt, history=history)
        recent = [t.content for t in turns[-LORE_SCAN_MESSAGES:]]
        return PromptParts(
            system=persona.system_with_lore(persona.lore_hits(recent)),
            examples=list(persona.examples),
            history=history,
            note=persona.post_history,
        )

    # -- internals ------------------------------------------------------------------------------

    def _has_user_turn(self) -> bool:
        return any(t.role == "user" for t in self.turns)

    def _require_store(self, what: str) -> HistoryStore:
        if self.store is None:
            raise UserError(f"this chat is not being stored, so it cannot be {what}")
        return self.store

    def _reply(self, cancel: threading.Event | None, turns: list[Turn] | None = None,
               on_done: Callable[[Reply], None] | None = None) -> TurnStream:
        fitted = self.budget.fit(self.prompt_parts(turns))
        self.last_fitted = fitted
        stream = self.engine.stream(fitted.messages, cancel=cancel)
        return TurnStream(stream, fitted, on_done or self._save_reply, len(self.turns if turns is None else turns))

    @staticmethod
    def _said_nothing(reply: Reply) -> bool:
        return not reply.text and not reply.reasoning and reply.finish_reason == CANCELLED

    def _save_reply(self, reply: Reply) -> None:
        if self._said_nothing(reply):
            return  # nothing was said; the user's message waits for /retry
        self._append(Turn("assistant", reply.text, reply.reasoning, stats=reply.stats()))

    def _save_alternative(self, reply: Reply) -> None:
        if self._said_nothing(reply):
            return  # the reply shown stays as it was
        turn = self.turns[-1]
        if not turn.alternatives:
            turn.alternatives = [Alternative(0, turn.content, turn.reasoning, turn.original, turn.rating, turn.stats)]
        number = len(turn.alternatives)
        turn.alternatives.append(Alternative(number, reply.text, reply.reasoning, stats=reply.stats()))
        if self.store is not None:
            self.store.add_alternative(turn.message_id, reply.text, reply.reasoning, reply.stats())
        turn.show(number)

    def _append(self, turn: Turn) -> None:
        if self.store is not None:
            stored = self.store.add_message(self.chat_id, turn.role, turn.content, turn.reasoning, turn.stats)
            turn.position, turn.message_id = stored.position, stored.id
        self.turns.append(turn)

    def _drop_from(self, index: int) -> None:
        dropped = self.turns[index:]
        del self.turns[index:]
        if self.store is not None and dropped and dropped[0].position is not None:
            self.store.delete_messages_from(self.chat_id, dropped[0].position)
