"""A model's chat template: find it, render it the way transformers does, and read facts from it.

The one fact that matters most for export is which token ends an assistant turn: a chat model must
stop on it, so it becomes the GGUF eos whatever `config.json` says (Qwen2.5's config names
`<|endoftext|>` while its turns end with `<|im_end|>` — the classic never-stops export bug).
"""

from __future__ import annotations

import json
from pathlib import Path

from hearth.chat_template import SandboxedTemplate

# Stand-in message contents, unlikely to occur in any template's own text.
MARK_USER = "\u2063hearth-user\u2063"
MARK_ASSISTANT = "\u2063hearth-assistant\u2063"


def load_chat_template(model_dir: Path) -> str | None:
    """The template transformers would use: `chat_template.jinja` (transformers 5), else the
    `chat_template` field of tokenizer_config.json (a string, or a list of named templates)."""
    model_dir = Path(model_dir)
    jinja_file = model_dir / "chat_template.jinja"
    if jinja_file.is_file():
        return jinja_file.read_text(encoding="utf-8")
    config_file = model_dir / "tokenizer_config.json"
    if not config_file.is_file():
        return None
    template = json.loads(config_file.read_text(encoding="utf-8")).get("chat_template")
    if isinstance(template, list):
        named = {t.get("name"): t.get("template") for t in template}
        return named.get("default") or next(iter(named.values()), None)
    return template


def token_text(value) -> str | None:
    """A special token as tokenizer_config.json stores it: a string or {"content": ...}."""
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None


def special_token_texts(model_dir: Path) -> dict[str, str]:
    """bos/eos/pad/unk token strings from tokenizer_config.json, for rendering templates."""
    config_file = Path(model_dir) / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
    texts = {f"{kind}_token": token_text(config.get(f"{kind}_token")) for kind in ("bos", "eos", "pad", "unk")}
    return {key: value for key, value in texts.items() if value}


def render(template: str, messages: list[dict], *, add_generation_prompt: bool, tokens: dict[str, str] | None = None) -> str:
    """The template's text for `messages`, in hearth's sandbox (a model's template is someone else's code)."""
    compiled = SandboxedTemplate(template, where="the model's chat template")
    return compiled.render(messages=messages, add_generation_prompt=add_generation_prompt, **(tokens or {}))


def end_of_turn(template: str, added_tokens: dict[str, int], tokens: dict[str, str] | None = None) -> tuple[str, int] | None:
    """The first added token the template writes after an assistant message's content, with its id.

    For ChatML that is `<|im_end|>`, for Llama 3 `<|eot_id|>`, for Llama 2 and Zephyr-style
    templates `</s>`. None when the template writes no token after the reply."""
    conversation = [{"role": "user", "content": MARK_USER}, {"role": "assistant", "content": MARK_ASSISTANT}]
    text = render(template, conversation, add_generation_prompt=False, tokens=tokens)
    if MARK_ASSISTANT not in text:
        return None
    after = text.split(MARK_ASSISTANT, 1)[1]
    found = [(after.find(content), -len(content), content) for content in added_tokens if content and content in after]
    if not found:
        return None
    _, _, content = min(found)
    return content, added_tokens[content]
