"""Render a conversation with the model's own chat template (the Jinja text a GGUF carries in
`tokenizer.chat_template`), in a sandbox, the way Hugging Face's tokenizers do it, so the prompt at
chat time is the prompt the model was trained on.
"""

from __future__ import annotations

import json
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from hearth.errors import UserError

# Used only when a GGUF carries no template at all: ChatML, what Qwen models (and hearth's tiny
# base) speak.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


class TemplateRefused(Exception):
    """The template itself raised (`raise_exception(...)`), e.g. for a role it does not accept."""


def _raise_exception(message: str):
    raise TemplateRefused(message)


def _tojson(value, indent=None, ensure_ascii=False, separators=None, sort_keys=False):
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, separators=separators, sort_keys=sort_keys)


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


def fold_system_notes(messages: list[dict]) -> list[dict]:
    """For templates that accept a system message only first: merge every later system message
    into the user message before it (or after it, when none is before)."""
    out: list[dict] = [dict(m) for m in messages[:1]]
    orphan_notes: list[str] = []
    for message in messages[1:]:
        if message["role"] == "system":
            if out and out[-1]["role"] == "user":
                out[-1]["content"] = f"{out[-1]['content']}\n\n{message['content']}"
            else:
                orphan_notes.append(message["content"])
            continue
        message = dict(message)
        if orphan_notes and message["role"] == "user":
            message["content"] = "\n\n".join(orphan_notes + [message["content"]])
            orphan_notes = []
        out.append(message)
    return out


class ChatTemplate:
    def __init__(self, source: str | None, bos_token: str = "", eos_token: str = ""):
        self.source = source or CHATML_TEMPLATE
        self.from_model = bool(source)
        self.bos_token = bos_token
        self.eos_token = eos_token
        try:
            self._template = _environment().from_string(self.source)
        except jinja2.TemplateSyntaxError as exc:
            raise UserError(
                f"the model's chat template is not valid Jinja (line {exc.lineno}: {exc.message}); re-export the model",
                where="tokenizer.chat_template",
            ) from None
        self._folds_system = False

    def render(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        if self._folds_system:
            messages = fold_system_notes(messages)
        try:
            return self._render(messages, add_generation_prompt)
        except TemplateRefused:
            folded = fold_system_notes(messages)
            if folded == messages:
                raise
            text = self._render(folded, add_generation_prompt)
            self._folds_system = True  # remember, so later turns render the same way
            return text

    def _render(self, messages: list[dict], add_generation_prompt: bool) -> str:
        return self._template.render(
            messages=messages,
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )

    def generation_prompt(self, messages: list[dict]) -> str:
        """The text the template adds to open the model's turn (e.g. `<|im_start|>assistant\\n`)."""
        with_prompt = self.render(messages, add_generation_prompt=True)
        without = self.render(messages, add_generation_prompt=False)
        return with_prompt[len(without) :] if with_prompt.startswith(without) else with_prompt[-64:]
