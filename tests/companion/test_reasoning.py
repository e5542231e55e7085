"""The streaming <think> splitter: tags split anywhere across chunks, open prompts, unclosed blocks."""

from __future__ import annotations

import random

import pytest

from companion.reasoning import (
    ANSWER,
    REASONING,
    ReasoningSplitter,
    prompt_opens_reasoning,
    split_reasoning,
)

TEXT = "<think>\n先想想：用户在问天气。\n</think>\n\n今天下雨，记得带伞。"


def _run(pieces, **kwargs):
    splitter = ReasoningSplitter(**kwargs)
    chunks = [c for piece in pieces for c in splitter.feed(piece)] + splitter.finish()
    return splitter, chunks


def _joined(chunks, kind):
    return "".join(c.text for c in chunks if c.kind == kind)


def test_whole_text_splits_into_reasoning_and_answer():
    assert split_reasoning(TEXT) == ("今天下雨，记得带伞。", "先想想：用户在问天气。")


def test_every_split_point_of_every_chunk_gives_the_same_result():
    for cut in range(1, len(TEXT)):
        splitter, chunks = _run([TEXT[:cut], TEXT[cut:]])
        assert (splitter.answer, splitter.reasoning) == ("今天下雨，记得带伞。", "先想想：用户在问天气。"), cut
        assert "<" not in _joined(chunks, ANSWER) and "think>" not in _joined(chunks, REASONING)


def test_character_by_character_and_random_chunks():
    rng = random.Random(3)
    for _ in range(50):
        cuts = sorted(rng.sample(range(1, len(TEXT)), rng.randint(1, 12)))
        pieces = [TEXT[a:b] for a, b in zip([0] + cuts, cuts + [len(TEXT)])]
        splitter, chunks = _run(pieces)
        assert _joined(chunks, ANSWER) == "今天下雨，记得带伞。"
        assert _joined(chunks, REASONING).strip() == "先想想：用户在问天气。"
    splitter, _ = _run(list(TEXT))
    assert splitter.answer == "今天下雨，记得带伞。"


def test_reasoning_streams_before_the_block_closes():
    splitter = ReasoningSplitter()
    early = splitter.feed("<think>我在想")
    assert [(c.text, c.kind) for c in early] == [("我在想", REASONING)]


def test_text_without_tags_is_all_answer_and_a_lone_angle_bracket_is_released():
    splitter, chunks = _run(["a < b", " 是真的 <"])
    assert splitter.answer == "a < b 是真的 <" and splitter.reasoning == ""
    assert all(c.kind == ANSWER for c in chunks)


def test_prompt_that_opens_think_starts_in_reasoning():
    splitter, _ = _run(["让我想想", "</think>", "好的"], start_in_reasoning=True)
    assert (splitter.reasoning, splitter.answer) == ("让我想想", "好的")


def test_an_unclosed_block_is_all_reasoning():
    splitter, _ = _run(["<think>还没想完"])
    assert (splitter.reasoning, splitter.answer) == ("还没想完", "")


@pytest.mark.parametrize(
    "suffix, opens",
    [("<|im_start|>assistant\n", False), ("<｜Assistant｜><think>\n", True), ("<think>x</think>", False)],
)
def test_generation_prompt_detection(suffix, opens):
    assert prompt_opens_reasoning(suffix) is opens
