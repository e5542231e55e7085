"""Training renders chat templates in hearth's sandbox: the same text transformers renders, and a hostile
template is one line instead of a hang."""

from __future__ import annotations

import pytest

from hearth.errors import UserError
from tests.exporter.conftest import LLAMA3_TEMPLATE, ZEPHYR_TEMPLATE
from tuner.chat_render import render_chat

CHAT = [{"role": "system", "content": "You are Lin Zhi."}, {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "*waves* Hello!"}, {"role": "user", "content": "How's Mantou?"}]
QWEN_LIKE = (  # system default, loop controls and tojson, as Qwen2.5's template uses them
    "{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are helpful.<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}{%- if message.role == 'tool' %}{%- continue %}{%- endif %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}{{- {'a': 1} | tojson if false }}"
)


@pytest.mark.parametrize("template", [None, LLAMA3_TEMPLATE, ZEPHYR_TEMPLATE, QWEN_LIKE])
@pytest.mark.parametrize("generation", [False, True])
def test_the_sandbox_renders_what_transformers_renders(tiny_base_dir, template, generation):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base_dir)
    tokenizer.bos_token = "<|endoftext|>"
    if template:
        tokenizer.chat_template = template
    for messages in (CHAT, CHAT[1:], CHAT[1:3]):
        expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
        assert render_chat(tokenizer, messages, add_generation_prompt=generation) == expected


def test_a_looping_template_stops_training_in_one_line(tiny_base_dir):
    from transformers import AutoTokenizer

    from tuner.masking import encode_conversation

    tokenizer = AutoTokenizer.from_pretrained(tiny_base_dir)
    tokenizer.chat_template = "{% for a in range(10**5) %}{% for b in range(10**5) %}x{% endfor %}{% endfor %}"
    with pytest.raises(UserError) as caught:
        encode_conversation(tokenizer, CHAT[1:3])
    assert "chat template" in str(caught.value) and "\n" not in str(caught.value)
