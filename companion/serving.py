"""What an exported model is served with outside hearth (the Ollama Modelfile): the chat's sampling settings and,
for a persona, the system prompt and greeting a chat with it would start from — the card in the run's language.

One service for every front end that exports (`hearth export`, the train screen, the demo).
"""

from __future__ import annotations

import json
from pathlib import Path

from companion.persona_choice import default_user_name
from companion.settings import EngineSettings
from hearth.language import run_language


def serving_for(run_root: str | Path, *, persona: str | None = None, settings: EngineSettings | None = None) -> dict:
    """`{"settings": ..., "system_prompt"?: ..., "greeting"?: ...}` for `python -m exporter export --serving`."""
    serving: dict = {"settings": (settings or EngineSettings()).to_dict()}
    if persona:
        from personas.library import find_persona
        from personas.prompt import card_language, render_persona

        card = find_persona(persona, language=run_language(run_root))
        prompt = render_persona(card, user_name=default_user_name(card_language(card)))
        serving.update(system_prompt=prompt.system, greeting=prompt.greeting or None)
    return serving


def serving_json(run_root: str | Path, *, persona: str | None = None, settings: EngineSettings | None = None) -> str:
    return json.dumps(serving_for(run_root, persona=persona, settings=settings), ensure_ascii=False)
