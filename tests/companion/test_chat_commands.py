"""The slash commands both chat front ends share parse here into typed commands: the reply's number (from 1,
"#2" or "2"), a rating, a title; a name neither knows is None (the front end's own, or unknown), bad arguments
to a known one a UserError naming the command."""

from __future__ import annotations

import pytest

from companion.chat_commands import NAMES, Edit, Keep, NewChat, Rate, Retry, Swipe, Undo, parse
from hearth.errors import UserError


@pytest.mark.parametrize("line, command", [
    ("/retry", Retry()),
    ("/prev", Swipe(-1)),
    ("/NEXT", Swipe(1)),
    ("/swipe", Swipe(1)),
    ("/swipe prev", Swipe(-1)),
    ("/edit", Edit()),
    ("/edit 好的，进来坐", Edit(None, "好的，进来坐")),
    ("/edit 2", Edit(2, "")),
    ("/edit #2   好的 进来坐 ", Edit(2, "好的 进来坐")),
    ("/edit 2nd try", Edit(None, "2nd try")),  # only a whole number is a reply's
    ("/rate", Rate()),
    ("/rate 4", Rate(4)),
    ("/rate 9", Rate(9)),  # the session says what a rating may be
    ("/rate 2 4", Rate(4, reply=2)),
    ("/rate #2 4", Rate(4, reply=2)),
    ("/rate chat 5", Rate(5, chat=True)),
    ("/keep", Keep(True, "")),
    ("/save 雨天 的 聊天", Keep(True, "雨天 的 聊天")),
    ("/unkeep", Keep(False)),
    ("/undo", Undo()),
    ("/new", NewChat()),
])
def test_each_command_parses_to_what_it_says(line, command):
    assert parse(line) == command


@pytest.mark.parametrize("line, message", [
    ("/rate chat", "/rate takes a rating from 1 to 5"),
    ("/rate four", "/rate takes a rating from 1 to 5"),
    ("/rate 2 4 5", "/rate takes a rating from 1 to 5"),
    ("/rate reply 4", "/rate takes a rating from 1 to 5"),
    ("/swipe sideways", "/swipe takes next or prev, not 'sideways'"),
])
def test_bad_arguments_are_refused_naming_the_command(line, message):
    with pytest.raises(UserError, match=message):
        parse(line)


def test_names_the_front_ends_keep_for_themselves_are_none():
    assert parse("/help") is None and parse("/persona 林栀") is None and parse("/bogus") is None
    assert "/edit" in NAMES and "/help" not in NAMES
