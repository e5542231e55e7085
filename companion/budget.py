"""Fit a conversation into the context window, however long it has grown.

The prompt is laid out as: system prompt (the persona card, with the lore the chat has triggered) ·
example dialogue · history · note (post-history instructions) · the model's turn. Rules, in order:

1. The system prompt and the newest user message always stay; the reply keeps its room
   (`reply_tokens`), so prompt + reply never exceed `n_ctx`.
2. Example dialogue goes before any real history does.
3. History is trimmed from the oldest side in blocks: when it overflows, whole exchanges are
   dropped until only `1 - trim_fraction` of the room is used. The next turns then add to an
   unchanged beginning, so llama-cpp-python reuses its KV cache for it, and the beginning only
   moves again when the room is full once more (or when the lore in the system prompt changes).

The choice is a pure function of the conversation: the trim point is found by replaying the
conversation from its first exchange, so it is the same every time the same chat is fitted (after
a restart, `/retry`, `/undo`), and a new turn can only move it forward.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from hearth.errors import UserError

Message = dict  # {"role": ..., "content": ...}

# Role markers and newlines each message adds around its text in a chat template (ChatML: about 5).
# Only used to place block boundaries; the final fit is checked on the exact rendered prompt.
PER_MESSAGE_OVERHEAD = 6


@dataclass
class PromptParts:
    system: str = ""
    examples: list[list[Message]] = field(default_factory=list)
    history: list[Message] = field(default_factory=list)  # oldest first; the last one is the newest user turn
    note: str = ""


@dataclass
class FittedPrompt:
    messages: list[Message]
    prompt_tokens: int
    first_history_index: int  # index into PromptParts.history of the oldest message kept
    examples_kept: bool

    @property
    def trimmed(self) -> bool:
        return self.first_history_index > 0


def exchange_starts(history: list[Message]) -> list[int]:
    """Indices where an exchange begins: 0 (a greeting or the first user turn) and every user turn."""
    starts = [0]
    starts += [i for i, m in enumerate(history) if m["role"] == "user" and i > 0]
    return starts


class ContextBudget:
    def __init__(
        self,
        n_ctx: int,
        reply_tokens: int,
        count_text: Callable[[str], int],
        count_prompt: Callable[[list[Message]], int],
        trim_fraction: float = 0.5,
    ):
        if reply_tokens >= n_ctx:
            raise UserError(f"the reply length ({reply_tokens}) must be smaller than the context ({n_ctx})")
        self.n_ctx = n_ctx
        self.reply_tokens = reply_tokens
        self.count_text = count_text
        self.count_prompt = count_prompt
        self.trim_fraction = trim_fraction

    @property
    def prompt_limit(self) -> int:
        return self.n_ctx - self.reply_tokens

    def _cost(self, messages: list[Message]) -> int:
        return sum(self.count_text(m["content"]) + PER_MESSAGE_OVERHEAD for m in messages)

    def fit(self, parts: PromptParts) -> FittedPrompt:
        if not parts.history:
            raise ValueError("a prompt needs at least the user's newest message")
        head = [{"role": "system", "content": parts.system}] if parts.system else []
        tail = [{"role": "system", "content": parts.note}] if parts.note else []
        examples = [m for block in parts.examples for m in block]

        room = self.prompt_limit - self._cost(head) - self._cost(tail)
        starts = exchange_starts(parts.history[:-1]) if len(parts.history) > 1 else []
        start_group, examples_kept = self._replay(parts.history, starts, examples, room)

        def assemble(group: int, with_examples: bool) -> list[Message]:
            first = starts[group] if group < len(starts) else len(parts.history) - 1
            return head + (examples if with_examples else []) + parts.history[first:] + tail

        # The estimate placed the blocks; the exact count has the last word. Examples go first, then
        # whole exchanges one at a time (rare: only when the newest message is unusually long).
        candidates = [(start_group, examples_kept)] if examples_kept else []
        candidates += [(g, False) for g in range(start_group, len(starts) + 1)]
        for group, with_examples in candidates:
            messages = assemble(group, with_examples)
            tokens = self.count_prompt(messages)
            if tokens <= self.prompt_limit:
                first = starts[group] if group < len(starts) else len(parts.history) - 1
                return FittedPrompt(messages, tokens, first, with_examples)
        raise UserError(
            f"the system prompt and the newest message take {tokens} tokens, more than the "
            f"{self.prompt_limit} this context leaves ({self.n_ctx} minus {self.reply_tokens} for the reply); "
            "shorten the message, lower max_reply_tokens, or raise n_ctx"
        )

    def _replay(
        self, history: list[Message], starts: list[int], examples: list[Message], room: int
    ) -> tuple[int, bool]:
        """Replay the conversation turn by turn and return (first exchange kept, examples kept).

        At each past turn the window held the older exchanges plus the user message that came next;
        a decision made then depends only on what had been said by then, so later turns never undo it.
        """
        bounds = starts + [len(history) - 1]
        group_costs = [self._cost(history[a:b]) for a, b in zip(bounds, bounds[1:])]
        examples_cost = self._cost(examples)
        target = room * (1 - self.trim_fraction)

        first, window = 0, 0
        examples_kept = self._cost(history[-1:]) + examples_cost <= room
        for j, cost in enumerate(group_costs):
            window += cost
            next_user = self._cost([history[bounds[j + 1]]])
            if window + next_user + examples_cost > room:
                examples_kept = False
            if window + next_user > room:
                while first <= j and window + next_user > target:
                    window -= group_costs[first]
                    first += 1
        return first, examples_kept
