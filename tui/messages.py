"""Every custom message the app passes around, in one place.

Worker threads talk to the screens only through these (`post_message` is thread-safe); widgets on
the home screen use them to say what the person picked.
"""

from __future__ import annotations

from pathlib import Path

from textual.message import Message

# -- home screen: what the person picked -----------------------------------------------------------


class RunChosen(Message):
    def __init__(self, run_root: Path) -> None:
        super().__init__()
        self.run_root = run_root


class PersonaChosen(Message):
    def __init__(self, persona: str) -> None:
        super().__init__()
        self.persona = persona


class ChatChosen(Message):
    def __init__(self, chat_id: int) -> None:
        super().__init__()
        self.chat_id = chat_id


class ReadingChosen(Message):
    def __init__(self, reading_id: int) -> None:
        super().__init__()
        self.reading_id = reading_id


# -- chat screen: a session being opened, a reply streaming ----------------------------------------


class SessionReady(Message):
    """A model is loaded and a chat session (new or resumed) is ready to talk; `choice` is the
    (model, persona) it was opened for, so a load overtaken by a newer choice can be ignored."""

    def __init__(self, choice: tuple, session, notice: str = "") -> None:
        super().__init__()
        self.choice = choice
        self.session = session
        self.notice = notice


class SessionFailed(Message):
    def __init__(self, choice: tuple, message: str) -> None:
        super().__init__()
        self.choice = choice
        self.message = message


class ReplyStarted(Message):
    """The prompt is built; `turns` is the conversation as the session now holds it."""

    def __init__(self, session, turns: list) -> None:
        super().__init__()
        self.session = session
        self.turns = turns


class ReplyChunk(Message):
    """Some text of the reply; `kind` is "answer" or "reasoning" (companion.reasoning). `session` is
    what the reply belongs to: a chat session, or on the tarot screen the reading's request."""

    def __init__(self, session, text: str, kind: str) -> None:
        super().__init__()
        self.session = session
        self.text = text
        self.kind = kind


class ReplyDone(Message):
    """The reply ended (stopped, cut at the length limit, or cancelled); `turns` as stored after it."""

    def __init__(self, session, reply, turns: list) -> None:
        super().__init__()
        self.session = session
        self.reply = reply
        self.turns = turns


class ReplyFailed(Message):
    def __init__(self, session, message: str, turns: list) -> None:
        super().__init__()
        self.session = session
        self.message = message
        self.turns = turns


# -- tarot screen: a reading streaming (its chunks are ReplyChunk) -----------------------------------


class ReadingDone(Message):
    """The reading ended (stopped, cut at the length limit, or cancelled); `settings` are the engine's."""

    def __init__(self, request, reply, settings) -> None:
        super().__init__()
        self.request = request
        self.reply = reply
        self.settings = settings


class ReadingFailed(Message):
    def __init__(self, request, message: str) -> None:
        super().__init__()
        self.request = request
        self.message = message


# -- long jobs in child processes (training, merge, export) ----------------------------------------


class JobStarted(Message):
    """A job's run directory exists (a new training run gets one only after its recipe checks out)."""

    def __init__(self, job: str, run_root: Path) -> None:
        super().__init__()
        self.job = job
        self.run_root = run_root


class JobEvent(Message):
    """One hearth.events line from the child (`step`, `eval`, `stage`, `saved`, `warning`, `log`)."""

    def __init__(self, job: str, event: dict) -> None:
        super().__init__()
        self.job = job
        self.event = event


class JobEnded(Message):
    """The child exited: with its `done` event, an error sentence, or cancelled by the person."""

    def __init__(self, job: str, done: dict | None = None, error: str | None = None, cancelled: bool = False) -> None:
        super().__init__()
        self.job = job
        self.done = done
        self.error = error
        self.cancelled = cancelled
