"""`hearth tarot read` end to end on a tiny GGUF: draw, the training prompt, a streamed reply, the
stored reading, and its export read back by the training loader as the very prompt the model saw."""

from __future__ import annotations

import random

import pytest
from rich.console import Console

from companion.engine import Engine
from companion.readings import ReadingStore
from spreads.draw import draw_cards
from spreads.spread import find_spread

FAST = ["--max-tokens", "12", "--ctx", "512", "--threads", "1"]


@pytest.fixture
def seen_prompts(monkeypatch):
    """Every message list the engine is asked to answer."""
    seen = []
    original = Engine.stream

    def recording_stream(self, messages, *args, **kwargs):
        seen.append(messages)
        return original(self, messages, *args, **kwargs)

    monkeypatch.setattr(Engine, "stream", recording_stream)
    return seen


def test_read_draws_streams_stores_and_exports_what_the_model_saw(hearth, tiny_gguf, capsys, tmp_path, seen_prompts):
    from tuner.data import load_conversations

    spread_name = "三张牌（过去/现在/未来）"
    argv = ["tarot", "read", "--model", str(tiny_gguf), "--spread", spread_name, "--question", "我该换工作吗？",
            "--person", "Mel", "--seed", "5", *FAST]
    assert hearth(argv) == 0
    out = capsys.readouterr().out
    expected = draw_cards(find_spread(spread_name), random.Random(5))
    for text in expected.texts():
        assert text in out
    assert "塔罗师 ›" in out and "stored as reading #1" in out

    with ReadingStore() as store:
        reading = store.get(1)
    assert reading.cards == expected.rows()
    assert (reading.person, reading.question, reading.spread) == ("Mel", "我该换工作吗？", spread_name)
    assert reading.model == str(tiny_gguf)
    assert reading.reading.strip() and 0 < reading.tokens <= 12 and reading.seconds > 0

    (messages,) = seen_prompts
    assert len(messages) == 1 and messages[0]["role"] == "user"
    prompt = messages[0]["content"]
    for number, (placed, text) in enumerate(zip(expected.cards, expected.texts()), start=1):
        # each position named, with what it asks, beside its card and orientation
        assert f"{number}. {placed.position.zh}（{placed.position.meaning_zh}）：{text}" in prompt

    assert hearth(["tarot", "rate", "1", "5"]) == 0
    exported = tmp_path / "readings.jsonl"
    assert hearth(["tarot", "export-dataset", str(exported), "--min-rating", "5"]) == 0
    (conversation,) = load_conversations([exported], "tarot").conversations
    assert conversation.messages[0] == messages[0]  # trained on exactly what it read from
    assert conversation.messages[1]["content"] == reading.reading

    # One seed reproduces the whole reading: the same cards and the same words.
    assert hearth(argv) == 0
    with ReadingStore() as store:
        again = store.get(2)
    assert (again.cards, again.reading) == (reading.cards, reading.reading)


def test_read_with_the_users_own_cards(hearth, tiny_gguf, capsys, seen_prompts):
    argv = ["tarot", "read", "--model", str(tiny_gguf), "--spread", "single", "--question", "今天适合出门吗？",
            "--cards", "The Fool reversed", "--show-thinking", "--seed", "3", *FAST]
    assert hearth(argv) == 0
    assert "愚人(逆位)" in capsys.readouterr().out
    prompt = seen_prompts[0][0]["content"]
    assert "咨询者：匿名" in prompt and "牌阵：单张牌" in prompt and "1. 指引（此刻最需要听见的提醒）：愚人(逆位)" in prompt
    with ReadingStore() as store:
        (reading,) = store.list()
    assert reading.cards == [{"position": "指引", "meaning": "此刻最需要听见的提醒", "card": "愚人", "reversed": True}]


def test_an_english_run_reads_in_english_with_english_positions(hearth, tiny_gguf, capsys, seen_prompts, tmp_path):
    """The prompt's language is the model's run's: a run whose data report says English gets the English prompt."""
    import json
    import shutil

    run = tmp_path / "runs" / "en-run"
    (run / "gguf").mkdir(parents=True)
    (run / "data-report.json").write_text(json.dumps({"language": "en"}), encoding="utf-8")
    shutil.copy(tiny_gguf, run / "gguf" / "en-run-f16.gguf")
    argv = ["tarot", "read", "--model", str(run / "gguf" / "en-run-f16.gguf"), "--spread", "three-card",
            "--question", "Should I move abroad?", "--cards", "XVI rev, ten of coins, 圣杯侍者 (R)", *FAST]
    assert hearth(argv) == 0
    prompt = seen_prompts[0][0]["content"]
    assert prompt.startswith("As a professional tarot reader")
    assert "Spread: Three cards" in prompt
    assert "1. Past (what brought you here and still shapes things): The Tower (reversed)" in prompt
    assert "2. Present (where you stand now): Ten of Pentacles (upright)" in prompt
    assert "3. Future (where the present path leads): Page of Cups (reversed)" in prompt
    assert "Tarot reader ›" in capsys.readouterr().out
    with ReadingStore() as store:
        (reading,) = store.list()
    assert reading.context == {"language": "en"} and reading.cards[0]["position"] == "Past"


def test_demo_reading_prints_and_stores_one_reading(tiny_gguf):
    from tui.commands.tarot import demo_reading

    console = Console(record=True, width=100, color_system=None)
    reading_id = demo_reading(tiny_gguf, console)
    text = console.export_text()
    assert reading_id == 1 and "Mel" in text and "stored as reading #1" in text
    with ReadingStore() as store:
        reading = store.get(reading_id)
    assert reading.spread == "三张牌（过去/现在/未来）" and len(reading.cards) == 3 and reading.reading.strip()


def test_read_with_history_tells_the_reader_and_the_training_row_keeps_it(hearth, tiny_gguf, capsys, seen_prompts, tmp_path):
    from tuner.data import load_conversations

    with ReadingStore() as store:
        earlier = store.add(person="Mel", question="今年能升职吗？", spread="单张牌", reading="能，但要主动。",
                            cards=[{"position": "指引", "card": "高塔", "reversed": True}])
        store.rate(earlier, 5)
    base = ["tarot", "read", "--model", str(tiny_gguf), "--spread", "single", "--person", "Mel",
            "--question", "新工作顺利吗？", "--cards", "星星", *FAST]
    assert hearth(base) == 0  # off by default
    assert "以往的解读" not in seen_prompts[-1][0]["content"]
    assert hearth([*base, "--history"]) == 0
    prompt = seen_prompts[-1][0]["content"]
    assert "咨询者以往的解读：\n- " in prompt and "· 单张牌 · 问：今年能升职吗？ · 牌：高塔(逆位) · 评分 5/5" in prompt
    assert "told of 2 earlier reading(s)" in capsys.readouterr().out  # the first one and the no-history one
    with ReadingStore() as store:
        store.rate(3, 5)
    out = tmp_path / "rows.jsonl"
    assert hearth(["tarot", "export-dataset", str(out), "--min-rating", "5"]) == 0
    trained = [c.messages[0]["content"] for c in load_conversations([out], "tarot").conversations]
    assert trained[-1] == prompt
