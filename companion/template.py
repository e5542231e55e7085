"""Render a conversation with the model's own chat template (the Jinja text a GGUF carries in
`tokenizer.chat_template`), in a sandbox, the way Hugging Face's tokenizers do it, so the prompt at
chat time is the prompt the model was trained on.
"""

from __future__ import annotations

import logging

from hearth.chat_template import SandboxedTemplate, TemplateFailed, TemplateRefused

# Used when a GGUF carries no template at all, or one that cannot be rendered: ChatML, what Qwen
# models (and hearth's tiny base) speak.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
WHERE = "the model's chat template (tokenizer.chat_template)"

__all__ = ["CHATML_TEMPLATE", "ChatTemplate", "TemplateRefused", "fold_system_notes"]

_log = logging.getLogger(__name__)


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
    """The GGUF's template, or ChatML when it has none. A template that is broken, breaks the
    sandbox's limits or fails to render is a stranger's mistake, not the chat's: it is replaced by
    ChatML with one warning. `raise_exception(...)` is the template speaking (TemplateRefused)."""

    def __init__(self, source: str | None, bos_token: str = "", eos_token: str = ""):
        self.bos_token = bos_token
        self.eos_token = eos_token
        self._folds_system = False
        self._use(source)

    def _use(self, source: str | None) -> None:
        self.source = source or CHATML_TEMPLATE
        self.from_model = bool(source)
        try:
            self._template = SandboxedTemplate(self.source, where=WHERE)
        except TemplateFailed as exc:
            self._fall_back(exc)

    def _fall_back(self, problem: TemplateFailed) -> None:
        if not self.from_model:
            raise problem  # ChatML itself failing is hearth's bug, and a loop here
        _log.warning("warning: %s %s; chatting in ChatML instead, which this model may not have been trained on",
                     WHERE, problem.problem)
        self._folds_system = False
        self._use(None)

    def render(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        try:
            return self._render_folding(messages, add_generation_prompt)
        except TemplateFailed as exc:
            self._fall_back(exc)
            return self._render_folding(messages, add_generation_prompt)

    def _render_folding(self, messages: list[dict], add_generation_prompt: bool) -> str:
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
