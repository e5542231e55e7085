"""A conversation rendered with the tokenizer's chat template in hearth's sandbox (hearth/chat_template.py), the
same environment export and chat render with: a base model's template is someone else's code, and transformers'
own rendering has no limit on time or size (a hostile template would hang `hearth train`). The variables are the
ones transformers passes (the special tokens by name, `add_generation_prompt`), so the text is the same.
"""

from __future__ import annotations

from hearth.chat_template import SandboxedTemplate
from hearth.errors import UserError


def render_chat(tokenizer, messages: list[dict], *, add_generation_prompt: bool = False) -> str:
    template = tokenizer.chat_template
    if isinstance(template, dict):  # several named templates: transformers' default is the one called "default"
        template = template.get("default")
    if not template:
        raise UserError("the base model's tokenizer has no chat template; set model.chat_template in the recipe")
    where = f"the chat template of {getattr(tokenizer, 'name_or_path', '') or 'the base model'}"
    special = {name: value for name, value in tokenizer.special_tokens_map.items() if isinstance(value, str)}
    return SandboxedTemplate(template, where=where).render(
        messages=messages, add_generation_prompt=add_generation_prompt, **special)
