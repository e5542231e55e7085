"""Turn a card into the pieces of a chat prompt (SillyTavern's rules for what goes where).

- system: the card's `system_prompt` (its `{{original}}` is hearth's default instruction),
  or that default when the card has none; then description, personality, scenario.
  `creator_notes`, `tags`, `creator`, `character_version` never reach the model.
- examples: each `<START>` block of `mes_example` as chat messages.
- greeting / alternate_greetings: the opening message and its alternatives.
- post_history: `post_history_instructions`, for after the conversation.
- lore_hits(recent messages): lorebook entries the conversation has triggered; system_with_lore puts
  them in the system prompt where the card spec says: `before_char` ahead of the character's
  description, `after_char` after the scenario (SillyTavern's wiBefore / wiAfter).
Every macro is replaced with the character's and the person's names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from hearth.language import cjk_share
from personas.card import Card
from personas.lorebook import LoreHit, approx_tokens, select
from personas.macros import expand, speaker_pattern

# Written about {{char}} in the third person, so it reads right whatever the person is called. One per card
# language: a Chinese sentence in front of an English card makes an English-only base answer in pseudo-Chinese.
DEFAULT_SYSTEM_PROMPTS = {
    "zh": "以下是{{char}}和{{user}}之间的对话。请始终以{{char}}的身份、性格和口吻回复，只写{{char}}的话语和动作，"
          "不要替{{user}}说话或行动。",
    "en": "This is a conversation between {{char}} and {{user}}. Reply as {{char}}, in character: write only "
          "{{char}}'s words and actions, never {{user}}'s.",
}

# How the personality and scenario are introduced, by the card's language.
SECTION_LABELS = {
    "zh": {"personality": "{{char}}的性格：", "scenario": "场景："},
    "en": {"personality": "{{char}}'s personality: ", "scenario": "Scenario: "},
}

_EXAMPLE_SEPARATOR = re.compile(r"<START>", re.IGNORECASE)


def card_language(card: Card) -> str:
    """`extensions.hearth.language` when the card names one we have labels for, else a
    guess from the text: mostly CJK → zh, otherwise en."""
    hearth = card.extensions.get("hearth")
    named = hearth.get("language") if isinstance(hearth, dict) else None
    if named in SECTION_LABELS:
        return named
    return "zh" if cjk_share(card.description + card.personality + card.scenario) >= 0.5 else "en"


@dataclass
class PersonaPrompt:
    instruction: str  # the card's system prompt, or hearth's default
    definitions: list[str]  # description, personality, scenario: what the lore goes around
    examples: list[list[dict]]
    greeting: str
    alternate_greetings: list[str]
    post_history: str
    char_name: str
    user_name: str
    card: Card = field(repr=False)

    @property
    def system(self) -> str:
        """The system prompt without lore: the instruction, then the definitions."""
        return self.system_with_lore([])

    def expand(self, text: str) -> str:
        return expand(text, char=self.char_name, user=self.user_name)

    def lore_hits(
        self,
        recent_messages: list[str],
        *,
        budget: int | None = None,
        count_tokens: Callable[[str], int] = approx_tokens,
    ) -> list[LoreHit]:
        """The triggered lorebook entries with their positions (before_char/after_char)."""
        return select(
            self.card.character_book, recent_messages, expand=self.expand, budget=budget, count_tokens=count_tokens
        )

    def system_with_lore(self, hits: list[LoreHit]) -> str:
        """The system prompt with these lore hits in their places: `after_char` entries after the
        definitions, every other entry between the instruction and the description. Lore sent as a
        message after the user's turn instead was copied word for word by a tuned 135M base, which
        had never seen a system message there (docs/architecture.md)."""
        after = [hit.content for hit in hits if hit.position == "after_char"]
        before = [hit.content for hit in hits if hit.position != "after_char"]
        sections = [self.instruction, *before, *self.definitions, *after]
        return "\n\n".join(section for section in sections if section)


def parse_examples(mes_example: str, *, char_names: list[str], expand_text: Callable[[str], str]) -> list[list[dict]]:
    """Each `<START>` block as messages. A `{{user}}:`/`<USER>:` line starts a user message, a
    `{{char}}:`/`<BOT>:`/`Name:` line an assistant one; other lines continue the message
    before them. Text before the first speaker is narration and goes with the character."""
    speaker = speaker_pattern(char_names)
    blocks = []
    for block in _EXAMPLE_SEPARATOR.split(mes_example):
        messages: list[dict] = []
        for line in block.splitlines():
            match = speaker.match(line)
            if match:
                role = "user" if match["user"] is not None else "assistant"
                messages.append({"role": role, "content": match["rest"]})
            elif messages:
                messages[-1]["content"] += "\n" + line
            elif line.strip():
                messages.append({"role": "assistant", "content": line})
        for message in messages:
            message["content"] = expand_text(message["content"]).strip()
        messages = [message for message in messages if message["content"]]
        if messages:
            blocks.append(messages)
    return blocks


def render_persona(card: Card, user_name: str = "你") -> PersonaPrompt:
    """The card's prompt pieces for a conversation with `user_name`."""
    char_name = card.display_name

    def fill(text: str, original: str = "") -> str:
        return expand(text, char=char_name, user=user_name, original=original).strip()

    language = card_language(card)
    default = fill(DEFAULT_SYSTEM_PROMPTS[language])
    labels = SECTION_LABELS[language]
    definitions = [
        fill(card.description),
        fill(labels["personality"] + card.personality.strip()) if card.personality.strip() else "",
        fill(labels["scenario"] + card.scenario.strip()) if card.scenario.strip() else "",
    ]
    return PersonaPrompt(
        instruction=fill(card.system_prompt, original=default) if card.system_prompt.strip() else default,
        definitions=[section for section in definitions if section],
        examples=parse_examples(card.mes_example, char_names=[card.name, char_name], expand_text=fill),
        greeting=fill(card.first_mes),
        alternate_greetings=[fill(text) for text in card.alternate_greetings if text.strip()],
        post_history=fill(card.post_history_instructions),
        char_name=char_name,
        user_name=user_name,
        card=card,
    )
