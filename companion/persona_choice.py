"""Which card of a persona a chat uses: the language asked for, else the language of the run whose model
is talking, else the persona's own card. `hearth chat` and the TUI chat screen both ask here.

A model trained on English data and prompted with a Chinese card answers in pseudo-Chinese and never
stops (and the other way round), so a persona that has a card in the run's language gets that card.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hearth.errors import UserError
from hearth.language import LANGUAGES, run_language
from hearth.paths import run_of_export

# What {{user}} becomes when the person gave no name, by the card's language.
DEFAULT_USER_NAMES = {"zh": "你", "en": "User"}
LANGUAGE_NAMES = {"zh": "Chinese", "en": "English"}


def model_language(model_path: str | Path | None, lora_path: str | Path | None = None) -> str | None:
    """The language of the training data behind this model: the adapter's run first (a LoRA on a shared
    base GGUF is where the training is), then the model's; None when neither came from a run."""
    run = run_of_export(lora_path) or run_of_export(model_path)
    return run_language(run.root) if run is not None else None


def default_user_name(language: str | None) -> str:
    return DEFAULT_USER_NAMES.get(language or "", DEFAULT_USER_NAMES["zh"])


@dataclass(frozen=True)
class ChatPersona:
    prompt: object  # personas.prompt.PersonaPrompt; None for a chat without a persona
    name: str  # the card's name, stored with the chat ("" without a persona)
    language: str | None  # the card's language, else the one asked for or the run's
    user_name: str


def chat_persona(
    name: str | None,
    *,
    model_path: str | Path | None = None,
    lora_path: str | Path | None = None,
    language: str | None = None,
    user_name: str | None = None,
) -> ChatPersona:
    """The persona `name` (a persona name or a card file; None: no persona) ready for a chat with this model.

    `language` ("zh"/"en") is the person's explicit choice and must exist for the persona; without it the
    run's language picks the card when the persona has one in it. `user_name` defaults by the card's
    language (你 / User)."""
    from personas.library import find_persona
    from personas.prompt import card_language, render_persona

    if language is not None and language not in LANGUAGES:
        raise UserError(f"unknown language '{language}'; hearth has cards for {', '.join(LANGUAGES)}")
    wanted = language or model_language(model_path, lora_path)
    if name is None:
        return ChatPersona(None, "", wanted, user_name or default_user_name(wanted))
    card = find_persona(name, language=wanted)
    own = card_language(card)
    if language is not None and own != language:
        raise UserError(f"persona '{name}' has no {LANGUAGE_NAMES[language]} card (its card is "
                        f"{LANGUAGE_NAMES.get(own, own)}); leave out --language to use it")
    user = user_name or default_user_name(own)
    return ChatPersona(render_persona(card, user_name=user), card.name, own, user)
