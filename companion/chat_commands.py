"""The chat's slash commands as typed values: `parse("/rate 2 4")` is `Rate(4, reply=2)`. Both front ends
(`hearth chat`, tui/commands/chat.py, and the chat screen, tui/screens/chat.py) parse here and carry the value
out through the session (companion/session.py), so a command means the same in both.

    /retry                    another reply to the last message (the earlier ones stay as alternatives)
    /prev  /next  /swipe [next|prev]    step between the last reply's alternatives
    /edit [N] [TEXT]          change the companion's reply N (default: the last); no TEXT: the front end asks
    /rate [N | chat] R        rate reply N (default: the last) or the whole chat 1–5; no R: the front end asks
    /keep [TITLE] (/save)  /unkeep    keep the chat for training, or no longer
    /undo  /new

Replies are numbered as ChatSession.replies() counts them: the companion's, from 1 (a persona's greeting is
#1), in the order said; "#2" and "2" are the same. A line whose name is not here (a front end's own, such as
/help, or a typo) parses to None; bad arguments to a known name are a UserError naming the command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Union

from hearth.errors import UserError


@dataclass(frozen=True)
class Retry:
    pass


@dataclass(frozen=True)
class Swipe:
    step: int  # 1: the next alternative, -1: the previous


@dataclass(frozen=True)
class Edit:
    reply: int | None = None  # the reply's number; None: the last (on the chat screen: the one picked)
    text: str = ""  # "": ask for it


@dataclass(frozen=True)
class Rate:
    rating: int | None = None  # None: ask for it
    reply: int | None = None  # as Edit's
    chat: bool = False  # the whole chat instead of a reply


@dataclass(frozen=True)
class Keep:
    kept: bool = True
    title: str = ""


@dataclass(frozen=True)
class Undo:
    pass


@dataclass(frozen=True)
class NewChat:
    pass


ChatCommand = Union[Retry, Swipe, Edit, Rate, Keep, Undo, NewChat]

REPLY_NUMBER = re.compile(r"#?(\d+)")
RATE_USAGE = "/rate takes a rating from 1 to 5: /rate 4 (the last reply), /rate 2 4 (reply #2), /rate chat 4 (the chat)"
SWIPE_STEPS = {"": 1, "next": 1, "prev": -1, "previous": -1}


def reply_number(word: str) -> int | None:
    """"3" or "#3" as 3; None when `word` is not a reply's number."""
    match = REPLY_NUMBER.fullmatch(word)
    return int(match.group(1)) if match else None


def _edit(rest: str) -> Edit:
    first, _, text = rest.partition(" ")
    number = reply_number(first)
    # a number first is the reply's; everything else is the new text of the last reply
    return Edit(number, text.strip()) if number is not None else Edit(None, rest)


def _rate(rest: str) -> Rate:
    words = rest.split()
    if not words:
        return Rate()
    if len(words) <= 2 and words[-1].isdigit():
        rating = int(words[-1])
        if len(words) == 1:
            return Rate(rating)
        if words[0].lower() == "chat":
            return Rate(rating, chat=True)
        if reply_number(words[0]) is not None:
            return Rate(rating, reply=reply_number(words[0]))
    raise UserError(RATE_USAGE)


def _swipe(rest: str) -> Swipe:
    if rest.lower() not in SWIPE_STEPS:
        raise UserError(f"/swipe takes next or prev, not '{rest}'")
    return Swipe(SWIPE_STEPS[rest.lower()])


# name -> how what follows it becomes the command
PARSERS: dict[str, Callable[[str], ChatCommand]] = {
    "/retry": lambda rest: Retry(),
    "/prev": lambda rest: Swipe(-1),
    "/next": lambda rest: Swipe(1),
    "/swipe": _swipe,
    "/edit": _edit,
    "/rate": _rate,
    "/keep": lambda rest: Keep(True, rest),
    "/save": lambda rest: Keep(True, rest),
    "/unkeep": lambda rest: Keep(False),
    "/undo": lambda rest: Undo(),
    "/new": lambda rest: NewChat(),
}
NAMES = tuple(PARSERS)


def parse(line: str) -> ChatCommand | None:
    """A slash command line as its command; None when the name is none of PARSERS' (the front end's own, or
    unknown). Raises UserError when the name is known and what follows it is not what it takes."""
    name, _, rest = line.strip().partition(" ")
    parser = PARSERS.get(name.lower())
    return parser(rest.strip()) if parser is not None else None
