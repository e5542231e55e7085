"""Each eval measure on hand-made replies whose right value is known, and the verdict drawn from them."""

from __future__ import annotations

import pytest

from tuner.evaluate.measures import (MEASURES_BY_NAME, Card, Context, Reply, closer_side, drawn_cards, median_units,
                                     prompt_user_names, side_value)
from tuner.evaluate.report import measure_rows, verdict

PERSONA = "你是林栀，一个温暖的朋友。"
ZH = Context(reference="来一杯桂花乌龙吧。", language="zh", persona=PERSONA, median_units=8)
EN = Context(reference="I am well, thank you.", language="en", persona="You are Mira, a lighthouse keeper.",
             median_units=5)
TAROT_PROMPT = "作为专业塔罗师\n咨询者：Mel\n问题：工作？\n牌阵：三张牌\n抽到的牌：过去：愚人(正位)、现在：星星（逆位）\n"
TAROT = Context(reference="", language="zh", cards=drawn_cards(TAROT_PROMPT), user_names=prompt_user_names(TAROT_PROMPT))


def value(name: str, text: str, ctx: Context, stopped: bool = True):
    return MEASURES_BY_NAME[name].per_reply(Reply(text, stopped), ctx)


CASES = [
    # a reply that speaks for the user, in each of the ways it happens
    ("speaks_for_user", "Of course.\nUser: and then what?", EN, 1.0),
    ("speaks_for_user", "好呀。\n你：那我们走吧", ZH, 1.0),
    ("speaks_for_user", "*smiles*\n{{user}}: hi", EN, 1.0),
    ("speaks_for_user", "Here you go.<|im_start|>user\nmore", EN, 1.0),
    ("speaks_for_user", "Here you go.\nuser\nmore please", EN, 1.0),  # ChatML with its special tokens hidden
    ("speaks_for_user", "那就好。\nMel：谢谢你", TAROT, 1.0),  # the user's own name from the prompt
    ("speaks_for_user", "You are kind: thank you. I said to the user: wait.", EN, 0.0),
    # one that loops
    ("repetition", "I am fine. " * 8, EN, pytest.approx(19 / 22)),
    ("repetition", "The quick brown fox jumps over the lazy dog", EN, 0.0),
    ("loops", "好的好的好的好的好的好的好的好的", ZH, 1.0),
    ("loops", "好的，我们明天下午三点在店里见面吧。", ZH, 0.0),
    # one in the wrong language
    ("language_match", "I would love some tea, thank you.", ZH, 0.0),
    ("language_match", "好呀，*把茶推过去* 尝尝 Oolong。", ZH, 1.0),
    # one that never ends
    ("ends_by_itself", "and then and then", ZH, 0.0),
    # identity: the base's names and assistant claims, unless the persona is one
    ("identity_slips", "I'm SmolLM, created by Hugging Face.", EN, 1.0),
    ("identity_slips", "我是通义千问，一个人工智能助手。", ZH, 1.0),
    ("identity_slips", "As an AI language model I cannot drink tea.", EN, 1.0),
    ("identity_slips", "I keep the lamp lit every night.", EN, 0.0),
    ("identity_slips", "I am an AI assistant.", Context(reference="", persona="You are a helpful AI assistant."), 0.0),
    ("identity_slips", "I am an AI assistant.", Context(reference=""), None),  # no persona: nothing to slip from
    # length against the data's median (5 words here)
    ("length", "I am well, thank you.", EN, 1.0),
    ("length", "Well.", EN, 0.2),
    # style: chrF against the reference
    ("style", "来一杯桂花乌龙吧。", ZH, 1.0),
    ("style", "hello there", ZH, 0.0),
    # tarot coverage
    ("tarot_cards", "愚人代表新的开始，星星逆位……", TAROT, 1.0),
    ("tarot_cards", "愚人代表新的开始。", TAROT, 0.5),
    ("tarot_orientations", "愚人正位代表开始；星星是希望。", TAROT, 0.5),
    ("tarot_positions", "过去的愚人，现在的星星。", TAROT, 1.0),
    ("tarot_cards", "no cards here", EN, None),  # not a tarot prompt
]


@pytest.mark.parametrize("name,text,ctx,expected", CASES)
def test_measure_on_a_hand_made_reply(name, text, ctx, expected):
    assert value(name, text, ctx, stopped=name != "ends_by_itself") == expected


def test_drawn_cards_read_names_orientations_and_positions():
    cards = drawn_cards(TAROT_PROMPT)
    assert [(c.name, c.orientation, c.position) for c in cards] == [("愚人", "正位", "过去"), ("星星", "逆位", "现在")]
    assert drawn_cards("抽到的牌：宝剑三(逆位)、权杖王后(正位)")[1].name == "权杖王后"
    assert drawn_cards("just chatting") == ()


def test_side_values_aggregate_and_the_nearer_side_wins():
    contexts = [EN, EN]
    stops = [Reply("I am well, thank you.", True), Reply("Fine, thanks.", True)]
    never = [Reply("I am fine. " * 8, False), Reply("ok", False)]
    ends = MEASURES_BY_NAME["ends_by_itself"]
    assert side_value(ends, stops, contexts) == 1.0 and side_value(ends, never, contexts) == 0.0
    assert closer_side(ends, 1.0, ("base", 0.0), ("tuned", 1.0)) == "tuned"
    assert closer_side(ends, 1.0, ("base", 0.5), ("tuned", 0.5)) == "tie"
    length = MEASURES_BY_NAME["length"]  # twice as long and half as long are equally far
    assert closer_side(length, 1.0, ("base", 2.0), ("tuned", 0.5)) == "tie"
    assert median_units(["one two three", "一二三四五"]) == 4


def test_measure_rows_and_verdict_compare_each_side_with_the_data():
    contexts = [ZH, ZH]
    replies = {"base": [Reply("I'm SmolLM.\nUser: hi", False), Reply("I'm SmolLM. " * 6, False)],
               "tuned": [Reply("来一杯桂花乌龙吧。", True), Reply("来一杯乌龙吧。", True)]}
    rows = {row["name"]: row for row in measure_rows(replies, contexts)}
    assert "tarot_cards" not in rows  # no drawn cards in these prompts: the measure does not apply
    assert rows["ends_by_itself"]["data"] == 1.0 and rows["ends_by_itself"]["closer"] == "tuned"
    assert rows["identity_slips"]["values"] == {"base": 1.0, "tuned": 0.0}
    assert rows["speaks_for_user"]["values"]["base"] == 0.5 and rows["style"]["closer"] == "tuned"
    assert all(row["definition"] for row in rows.values())
    result = verdict({"base": {"loss": 3.0}, "tuned": {"loss": 1.5}}, list(rows.values()))
    # the base's two replies (4 and 12 words) have the data's median length (8): the one measure it wins
    assert rows["length"]["closer"] == "base" and result["further"] == 1
    assert result["loss_lower"] and result["closer"] == result["of"] - 1 - sum(r["closer"] == "tie" for r in rows.values())
    assert result["line"].startswith("held-out loss 3.000 → 1.500 (lower); tuned closer to the data on")


def test_drawn_cards_of_an_english_prompt_without_positions():
    """The seed's original format in English (one line of cards, no positions) is measured too."""
    from tuner.formats import tarot_prompt

    prompt = tarot_prompt("Ben", "Should I lend my brother money?", "Three cards",
                          ["Six of Pentacles (reversed)", "The Star (upright)"], language="en")
    cards = drawn_cards(prompt)
    assert [(c.name, c.orientation, c.position) for c in cards] == [
        ("Six of Pentacles", "逆位", ""), ("The Star", "正位", "")]
    reading = Reply("Ben, the Six of Pentacles, reversed, says wait; the Star, upright, says hope.")
    assert MEASURES_BY_NAME["tarot_orientations"].per_reply(reading, Context(reference="", cards=cards)) == 1.0


def test_positions_are_named_whatever_their_case():
    cards = (Card("The Tower", "逆位", "Past"), Card("The Star", "正位", "Future"))
    reading = Reply("In the past the Tower fell; the future holds the Star.")
    assert MEASURES_BY_NAME["tarot_positions"].per_reply(reading, Context(reference="", cards=cards)) == 1.0
