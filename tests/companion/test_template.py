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


def test_a_refusal_is_one_line_for_the_user():
    template = ChatTemplate("{{ raise_exception('Conversation roles must alternate') }}")
    with pytest.raises(UserError, match="refuses this conversation \\(Conversation roles must alternate\\)"):
        template.render([{"role": "user", "content": "hi"}])


def _falls_back_to_chatml(template: ChatTemplate) -> None:
    text = template.render([{"role": "user", "content": "hi"}])
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert not template.from_model


def test_the_sandbox_blocks_python_internals_and_chat_goes_on_in_chatml(caplog):
    template = ChatTemplate("{{ messages.__class__.__mro__ }}")
    _falls_back_to_chatml(template)
    assert "unsafe" in caplog.text and "ChatML" in caplog.text


def test_broken_jinja_falls_back_to_chatml_with_a_warning(caplog):
    template = ChatTemplate("{% for m in messages %}")
    _falls_back_to_chatml(template)
    assert "not valid Jinja" in caplog.text
    assert len(caplog.records) == 1


def test_a_template_that_never_ends_is_stopped_and_replaced(caplog):
    template = ChatTemplate("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}")
    _falls_back_to_chatml(template)
    assert "took longer than" in caplog.text


def test_generation_blocks_render_their_text():
    template = ChatTemplate(
        "{% for m in messages %}[{{ m['role'] }}]{% if m['role'] == 'assistant' %}{% generation %}"
        "{{ m['content'] }}{% endgeneration %}{% else %}{{ m['content'] }}{% endif %}{% endfor %}"
    )
    assert template.render(CHAT[1:3], add_generation_prompt=False) == "[user]你好[assistant]哟"
    assert template.from_model
