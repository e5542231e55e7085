"""Positions in the prompt, in the same words at training and at inference: for every bundled spread, in
Chinese and English, a live reading's prompt is the prompt its exported training row trains on; rows in the
seed's original format (a plain list of cards) still train, with the seed's own prompt."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from companion.readings import ReadingStore
from hearth.errors import UserError
from spreads.card_parser import parse_drawn
from spreads.draw import draw_cards
from spreads.reading import ReadingRequest, reading_language, store_reading
from spreads.reading_rows import export_readings, training_row, with_positions
from spreads.spread import bundled_spreads, find_spread
from tuner.data import load_conversations
from tuner.formats import TAROT_INSTRUCTION, RowError, from_tarot, tarot_row_prompt

SPREADS = bundled_spreads().spreads
SAMPLES = sorted((Path(__file__).resolve().parents[2] / "spreads").glob("readings-sample*.jsonl"))
QUESTIONS = {"zh": "我该换工作吗？", "en": "Should I change jobs?"}


@dataclass
class Reply:  # what companion.engine's stream leaves behind, as store_reading reads it
    text: str
    reasoning: str = ""
    completion_tokens: int = 7
    total_s: float = 0.5


@dataclass
class Settings:
    model_path: Path | None = None
    lora_path: Path | None = None


def _request(spread, language: str, seed: int = 3, history: tuple = ()) -> ReadingRequest:
    layout = draw_cards(spread, random.Random(seed))
    return ReadingRequest("Mel", QUESTIONS[language], spread.id, layout, language, history)


def _trained_prompt(out: Path) -> str:
    loaded = load_conversations([out], "tarot")
    assert not loaded.rejected
    (conversation,) = loaded.conversations
    return conversation.messages[0]["content"]


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("spread", SPREADS, ids=[s.id for s in SPREADS])
def test_a_live_prompt_is_the_prompt_its_training_row_trains_on(spread, language, tmp_path):
    request = _request(spread, language)
    with ReadingStore() as store:
        store_reading(store, request, Reply("a reading"), Settings(Path("/m/x.gguf")))
        export_readings(store, tmp_path / "rows.jsonl")
    live = request.messages()[0]["content"]
    assert _trained_prompt(tmp_path / "rows.jsonl") == live
    for placed in request.layout.cards:  # every position, with what it asks, beside its card
        name, meaning = placed.position.name(language), placed.position.meaning(language)
        assert f"{name}（{meaning}）：" in live or f"{name} ({meaning}): " in live
        assert placed.drawn.text(language) in live


def test_the_english_prompt_is_english_throughout():
    prompt = _request(find_spread("celtic-cross"), "en").messages()[0]["content"]
    assert prompt.startswith("As a professional tarot reader") and "Spread: Celtic Cross" in prompt
    assert "10. Outcome (where it all leads): " in prompt
    assert not any("\u4e00" <= char <= "\u9fff" for char in prompt)


def test_an_original_format_row_still_trains_with_the_seeds_prompt():
    row = {"person": "Mel", "question": "2024年运势", "spread": "三张牌", "cards": ["愚人(正位)", "力量(逆位)", "星币十(正位)"],
           "reading": "解读。"}
    messages = from_tarot(row)
    assert messages[0]["content"] == TAROT_INSTRUCTION.format(person="Mel", question="2024年运势", spread="三张牌",
                                                              cards="愚人(正位)、力量(逆位)、星币十(正位)")
    english = {"person": "Mel", "question": "How will the year go?", "spread": "Three cards",
               "cards": ["The Fool (upright)", "Strength (reversed)"], "reading": "The Fool says begin."}
    assert from_tarot(english)[0]["content"].startswith("As a professional tarot reader")
    assert "Cards drawn: The Fool (upright), Strength (reversed)" in from_tarot(english)[0]["content"]


def test_an_original_format_row_given_positions_reads_like_a_live_reading():
    row = {"person": "Mel", "question": "我该换工作吗？", "spread": "三张牌", "reading": "解读。"}
    request = _request(find_spread("three-card"), "zh")
    row["cards"] = request.layout.texts()
    upgraded = with_positions(row)
    assert tarot_row_prompt(upgraded) == request.messages()[0]["content"]
    with pytest.raises(UserError, match="has 3 position"):
        with_positions({**row, "cards": row["cards"][:2]})


def test_bad_positions_are_row_errors():
    row = {"person": "M", "question": "q?", "spread": "s", "cards": ["愚人(正位)"], "reading": "r"}
    with pytest.raises(RowError, match="one position per card"):
        from_tarot({**row, "positions": ["过去", "现在"]})
    with pytest.raises(RowError, match="position 1 must be a name"):
        from_tarot({**row, "positions": [{"meaning": "?"}]})
    with pytest.raises(RowError, match="'language' must be one of zh, en"):
        from_tarot({**row, "language": "fr"})


def test_a_stored_reading_from_before_positions_exports_position_names_and_trains(tmp_path):
    with ReadingStore() as store:
        store.add(person="Mel", question="q？", spread="单张牌", reading="r",
                  cards=[{"position": "指引", "card": "愚人", "reversed": True}])
        (reading,) = store.list()
    row = training_row(reading)
    assert row["positions"] == [{"name": "指引", "meaning": ""}] and row["language"] == "zh"
    assert "1. 指引：愚人(逆位)" in from_tarot(row)[0]["content"]


def test_the_prompt_language_follows_the_models_run(tmp_path):
    run = tmp_path / "run"
    (run / "gguf").mkdir(parents=True)
    (run / "data-report.json").write_text(json.dumps({"language": "en"}), encoding="utf-8")
    assert reading_language(Settings(run / "gguf" / "m.gguf"), "你好吗") == "en"
    assert reading_language(Settings(tmp_path / "loose.gguf"), "Will it rain?") == "en"  # no run: the question's
    assert reading_language(Settings(tmp_path / "loose.gguf"), "会下雨吗？") == "zh"
    assert reading_language(Settings(run / "gguf" / "m.gguf"), "Will it rain?", choice="zh") == "zh"


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_bundled_sample_readings_parse_and_train(path):
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert rows
    for number, row in enumerate(rows, start=1):
        spread = find_spread(row["spread"])
        cards = [parse_drawn(text) for text in row["cards"]]
        assert len(cards) == len(spread), f"{path.name}:{number}"
        assert from_tarot(row)[1]["content"] == row["reading"]
        if "positions" in row:  # positions, when given, are the spread's own
            assert [p["name"] for p in row["positions"]] == [
                p.name(row.get("language") or ("en" if "en" in path.name else "zh")) for p in spread.positions]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_prompts_cards_read_back_with_positions_and_orientations(language):
    from tuner.formats import PromptCard, tarot_prompt_cards

    for spread in SPREADS:
        request = _request(spread, language, seed=11)
        assert tarot_prompt_cards(request.messages()[0]["content"]) == [
            PromptCard(p.position.name(language), p.drawn.card.name(language), p.drawn.reversed)
            for p in request.layout.cards]
    plain = from_tarot({"person": "M", "question": "问？", "spread": "单张牌", "cards": ["愚人(逆位)", "塔(正位)"], "reading": "答。"})
    assert tarot_prompt_cards(plain[0]["content"]) == [PromptCard("", "愚人", True), PromptCard("", "塔", False)]


def _stored_history(store, person: str = "Mel") -> None:
    """Two earlier readings of Mel (one rated, one in English) and one of someone else."""
    store.add(person=person, question="我该换工作吗？", spread="三张牌", reading="先等等。",
              cards=[{"position": "过去", "card": "高塔", "reversed": True},
                     {"position": "现在", "card": "星星", "reversed": False},
                     {"position": "未来", "card": "太阳", "reversed": False}])
    later = store.add(person=person, question="Will the move go well?", spread="Single card", reading="Yes.",
                      context={"language": "en"}, cards=[{"position": "Guidance", "card": "The Moon", "reversed": True}])
    store.rate(later, 4)
    store.add(person="Ann", question="别人的问题", spread="单张牌", reading="r",
              cards=[{"position": "指引", "card": "愚人", "reversed": False}])


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("spread", SPREADS, ids=[s.id for s in SPREADS])
def test_with_the_querents_history_the_live_prompt_is_still_the_training_prompt(spread, language, tmp_path):
    from spreads.querent_history import querent_history

    with ReadingStore() as store:
        _stored_history(store)
        history = querent_history(store, "Mel", language)
        request = _request(spread, language, history=history)
        new_id = store_reading(store, request, Reply("a reading"), Settings(Path("/m/x.gguf")))
        (reading,) = [r for r in store.list() if r.id == new_id]
        with open(tmp_path / "rows.jsonl", "w", encoding="utf-8") as f:
            f.write(json.dumps(training_row(reading), ensure_ascii=False) + "\n")
    live = request.messages()[0]["content"]
    assert _trained_prompt(tmp_path / "rows.jsonl") == live
    assert [entry["question"] for entry in history] == ["Will the move go well?", "我该换工作吗？"]  # newest first, Mel's only
    if language == "en":
        assert "The querent's earlier readings:" in live and "cards: The Tower (reversed), The Star (upright)" in live
        assert "· Single card · asked: Will the move go well? · cards: The Moon (reversed) · rated 4/5" in live
    else:
        assert "咨询者以往的解读：" in live and "牌：月亮(逆位) · 评分 4/5" in live and "三张牌 · 问：我该换工作吗？" in live
    assert live.index("earlier readings" if language == "en" else "以往的解读") > live.index(request.layout.texts(language)[-1])


def test_the_history_block_is_budgeted_and_nobody_has_the_anonymous_ones():
    from spreads.querent_history import querent_history

    with ReadingStore() as store:
        for n in range(6):
            store.add(person="Mel", question=f"第{n}个问题，" + "很长的问题" * 30, spread="单张牌", reading="r",
                      cards=[{"position": "指引", "card": "愚人", "reversed": False}])
        store.add(person="匿名", question="q", spread="单张牌", reading="r",
                  cards=[{"position": "指引", "card": "愚人", "reversed": False}])
        history = querent_history(store, "Mel", "zh")
        assert 1 <= len(history) <= 3 and history[0]["question"].startswith("第5个问题")
        assert all(len(e["question"]) <= 60 for e in history)
        assert sum(len(json.dumps(e, ensure_ascii=False)) for e in history) <= 600
        assert querent_history(store, "匿名", "zh") == ()
        assert querent_history(store, "Mel", "zh", budget=10) == ()


def test_a_history_row_with_bad_entries_is_a_row_error():
    row = {"person": "M", "question": "q?", "spread": "s", "cards": ["愚人(正位)"], "reading": "r"}
    with pytest.raises(RowError, match="'history' must be a list"):
        from_tarot({**row, "history": "last week"})
    with pytest.raises(RowError, match="missing field 'date'"):
        from_tarot({**row, "history": [{"question": "q", "spread": "s", "cards": ["愚人(正位)"]}]})


@pytest.mark.parametrize("language", ["zh", "en"])
def test_hearth_eval_reads_a_live_prompts_cards_orientations_and_positions(language):
    """`hearth eval`'s tarot coverage measures (tuner/evaluate/measures.py) see the positions the prompt names."""
    from tuner.evaluate.measures import MEASURES_BY_NAME, Context, Reply, drawn_cards

    request = _request(find_spread("three-card"), language, seed=2)
    cards = drawn_cards(request.messages()[0]["content"])
    assert [(c.name, c.orientation == "逆位", c.position) for c in cards] == [
        (p.drawn.card.name(language), p.drawn.reversed, p.position.name(language)) for p in request.layout.cards]
    first = request.layout.cards[0]
    reply = Reply(f"{first.position.name(language)}: {first.drawn.text(language)}")
    positions = MEASURES_BY_NAME["tarot_positions"].per_reply(reply, Context(reference="", language=language, cards=cards))
    assert positions == pytest.approx(1 / 3)
