"""Spread definitions: found by id, name or alias; unknown ones list the known."""

from __future__ import annotations

import pytest

from hearth.errors import UserError
from spreads.spread import default_spreads, find_spread


@pytest.mark.parametrize(
    ("name", "spread_id", "size"),
    [
        ("single", "single", 1),
        ("单张牌", "single", 1),
        ("three-card", "three-card", 3),
        ("三张牌（过去/现在/未来）", "three-card", 3),
        ("三张牌(过去/现在/未来)", "three-card", 3),
        ("celtic cross", "celtic-cross", 10),
        ("塞尔特十字", "celtic-cross", 10),
        ("马蹄铁", "horseshoe", 7),
        ("Relationship", "relationship", 7),
    ],
)
def test_find_spread_by_any_name(name, spread_id, size):
    spread = find_spread(name)
    assert spread.id == spread_id and len(spread) == size == len(spread.positions)


def test_positions_come_in_order():
    assert [p.zh for p in find_spread("three-card").positions] == ["过去", "现在", "未来"]
    assert find_spread("celtic-cross").positions[-1].en == "Outcome"


def test_unknown_spread_lists_the_known_ones():
    with pytest.raises(UserError) as caught:
        find_spread("tree of life")
    message = str(caught.value)
    assert "'tree of life'" in message
    for spread in default_spreads().spreads:
        assert spread.id in message and spread.zh in message


def test_prompt_name_keeps_a_chinese_name_as_typed_and_turns_ids_into_chinese():
    three = find_spread("three-card")
    assert three.prompt_name("三张牌（过去/现在/未来）") == "三张牌（过去/现在/未来）"
    assert three.prompt_name("three-card") == "三张牌"
    assert three.prompt_name("Three cards") == "三张牌"
    assert three.prompt_name(None) == "三张牌"
