"""Loss only on assistant replies plus their end-of-turn token, for templates without generation markers."""

import pytest
from transformers import AutoTokenizer

from tuner.masking import IGNORE_INDEX, encode_conversation, end_of_turn_token

# Written for these tests in the shape of the real templates: Qwen2.5 injects a default system
# prompt; R1-Distill uses full-width markers, drops reasoning from replies, and has no generation tags.
QWEN25_STYLE = (
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}{%- if message.role != 'system' %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
R1_STYLE = (
    "{{ bos_token }}{%- if messages[0]['role'] == 'system' %}{{ messages[0]['content'] }}{%- endif %}"
    "{%- for message in messages %}{%- if message['role'] == 'user' %}{{ '<｜User｜>' + message['content'] }}"
    "{%- elif message['role'] == 'assistant' %}{%- set content = message['content'] %}"
    "{%- if '</think>' in content %}{%- set content = content.split('</think>')[-1] %}{%- endif %}"
    "{{ '<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{%- endif %}"
)
R1_SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"]

CONVERSATION = [
    {"role": "system", "content": "你是林栀，一个温柔的女孩。"},
    {"role": "user", "content": "你好"},
    {"role": "assistant", "content": "你好"},  # echoes the user: must be masked only in the reply
    {"role": "user", "content": "今天好累 so tired"},
    {"role": "assistant", "content": "辛苦啦，先喝口热茶吧 :)"},
]


@pytest.fixture(scope="module")
def tokenizers(tiny_base_dir):
    chatml = AutoTokenizer.from_pretrained(tiny_base_dir)
    qwen = AutoTokenizer.from_pretrained(tiny_base_dir)
    qwen.chat_template = QWEN25_STYLE
    r1 = AutoTokenizer.from_pretrained(tiny_base_dir)
    r1.add_special_tokens({"additional_special_tokens": R1_SPECIALS})
    r1.bos_token, r1.eos_token = R1_SPECIALS[0], R1_SPECIALS[1]
    r1.chat_template = R1_STYLE
    return {"chatml": (chatml, "<|im_end|>"), "qwen2.5": (qwen, "<|im_end|>"), "r1-distill": (r1, "<｜end▁of▁sentence｜>")}


def masked_text(tokenizer, encoded) -> list[str]:
    """Decode each contiguous run of labelled tokens."""
    runs, current = [], []
    for token, label in zip(encoded.input_ids, encoded.labels):
        if label != IGNORE_INDEX:
            assert label == token
            current.append(token)
        elif current:
            runs.append(tokenizer.decode(current)), current.clear()
    if current:
        runs.append(tokenizer.decode(current))
    return runs


@pytest.mark.parametrize("name", ["chatml", "qwen2.5", "r1-distill"])
def test_masked_tokens_are_exactly_the_replies_and_their_end_of_turn(tokenizers, name):
    tokenizer, eot = tokenizers[name]
    assert end_of_turn_token(tokenizer) == eot
    encoded = encode_conversation(tokenizer, CONVERSATION)
    assert masked_text(tokenizer, encoded) == [f"你好{eot}", f"辛苦啦，先喝口热茶吧 :){eot}"]
    trained = [label for label in encoded.labels if label != IGNORE_INDEX]
    assert trained[-1] == tokenizer.convert_tokens_to_ids(eot)  # the model learns to stop
    # The prompt side — system text, user turns, role markers — carries no loss.
    assert sum(1 for label in encoded.labels if label == IGNORE_INDEX) > len(encoded.labels) // 3


def test_reasoning_dropped_by_the_template_is_not_trained(tokenizers):
    tokenizer, eot = tokenizers["r1-distill"]
    conversation = [{"role": "user", "content": "抽到了愚人"}, {"role": "assistant", "content": "<think>想一想</think>愚人是新的开始。"}]
    assert masked_text(tokenizer, encode_conversation(tokenizer, conversation)) == [f"愚人是新的开始。{eot}"]


def test_truncation_is_reported(tokenizers):
    tokenizer, _ = tokenizers["chatml"]
    encoded = encode_conversation(tokenizer, CONVERSATION, max_length=12)
    assert encoded.truncated and len(encoded.input_ids) == 12 and len(encoded.labels) == 12
