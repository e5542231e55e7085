"""The data report records the language of the kept rows, and every bundled English row survives
preparation (what `hearth data check` runs)."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from tuner.data import load_conversations
from tuner.prepare import data_files, data_language, prepare
from tuner.recipe import load_recipe


@pytest.fixture(scope="module")
def tokenizer(tiny_base_dir):
    return AutoTokenizer.from_pretrained(tiny_base_dir)


@pytest.mark.parametrize(
    "builtin, language, at_least",
    [("linzhi-en", "en", 120), ("tarot-sample-en", "en", 40), ("linzhi", "zh", 120), ("tarot-sample", "zh", 40)],
)
def test_builtin_data_keeps_every_row_and_reports_its_language(tokenizer, builtin, language, at_least):
    recipe = load_recipe("tiny-offline", [f"data.files=[builtin:{builtin}]", "data.max_length=2048"])
    loaded = load_conversations(data_files(recipe), recipe.data.format)
    report = prepare(loaded, tokenizer, recipe).report
    assert report.rows_rejected == 0 and report.rows_kept >= at_least
    assert report.truncated_rows == 0
    assert report.language == language


def test_the_language_is_that_of_the_replies_not_of_a_fixed_instruction():
    english_reading = [
        {"role": "user", "content": "作为专业塔罗师，请为以下咨询提供解读：问题：Should I move?"},
        {"role": "assistant", "content": "Your card is the Two of Wands, upright: plan first, then go."},
    ]
    chinese_chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "来啦，先喝口茶。"}]
    assert data_language([english_reading]) == "en"
    assert data_language([chinese_chat]) == "zh"
