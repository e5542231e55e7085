"""Rendering with the model's own Jinja chat template, in a sandbox."""

from __future__ import annotations

import pytest

from companion.reasoning import prompt_opens_reasoning
from companion.template import CHATML_TEMPLATE, ChatTemplate, TemplateRefused, fold_system_notes
from hearth.errors import UserError

CHAT = [
    {"role": "system", "content": "你是林栀。"},
    {"role": "user", "content": "你好"},
    {"role": "assistant", "content": "哟"},
    {"role": "user", "content": "在吗"},
    {"role": "system", "content": "保持语气。"},
]

# Like Gemma's and Mistral's: a system message anywhere but first is refused.
STRICT_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'system' and not loop.first %}"
    "{{ raise_exception('System role only first') }}{% endif %}"
    "[{{ m['role'] }}]{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"
)
# Like DeepSeek-R1-Distill's: the model's turn opens a <think> block.
R1_LIKE_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}<|Assistant|><think>\n{% endif %}"
)


def test_chatml_renders_every_message_and_opens_the_assistant_turn():
    text = ChatTemplate(CHATML_TEMPLATE).render(CHAT[:4])
    assert text == (
        "<|im_start|>system\n你是林栀。<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n"
        "<|im_start|>assistant\n哟<|im_end|>\n<|im_start|>user\n在吗<|im_end|>\n<|im_start|>assistant\n"
    )


def test_a_template_that_refuses_late_system_messages_gets_them_folded_into_the_user_turn():
    template = ChatTemplate(STRICT_TEMPLATE)
    text = template.render(CHAT)
    assert text.endswith("[user]在吗\n\n保持语气。\n[assistant]")
    assert text.count("[system]") == 1


def test_folding_keeps_order_and_content():
    folded = fold_system_notes(CHAT)
    assert [m["role"] for m in folded] == ["system", "user", "assistant", "user"]
    assert folded[-1]["content"] == "在吗\n\n保持语气。"


def test_a_refusal_unrelated_to_system_messages_is_not_hidden():
    template = ChatTemplate("{{ raise_exception('Conversation roles must alternate') }}")
    with pytest.raises(TemplateRefused):
        template.render([{"role": "user", "content": "hi"}])


def test_r1_style_generation_prompt_opens_reasoning():
    template = ChatTemplate(R1_LIKE_TEMPLATE, bos_token="<s>")
    suffix = template.generation_prompt([{"role": "user", "content": "hi"}])
    assert suffix == "<|Assistant|><think>\n" and prompt_opens_reasoning(suffix)
    assert template.render([{"role": "user", "content": "hi"}]).startswith("<s>")


def test_the_sandbox_blocks_python_internals():
    template = ChatTemplate("{{ messages.__class__.__mro__ }}")
    with pytest.raises(Exception) as caught:
        template.render([{"role": "user", "content": "hi"}])
    assert "unsafe" in str(caught.value).lower() or "access" in str(caught.value).lower()


def test_broken_jinja_is_a_user_error():
    with pytest.raises(UserError, match="not valid Jinja"):
        ChatTemplate("{% for m in messages %}")
