"""The scrolling conversation: one bubble per turn of the session, plus the reply being written.

`show_turns` makes the bubbles match the session's turns with as little redrawing as possible: the
bubbles that already match stay, the rest are replaced. So retry, undo and a new chat are all the
same call, and a streamed reply that the session stored keeps its bubble. A bubble that stays takes
the turn's curation marks (a rating, the alternative's number) in place.

`picked` is the number of the companion's reply (from 1, as companion.session.ChatSession.replies()
counts) that the chat screen's edit and rate act on, or None for the last one: that bubble is marked
"▸ #N" and kept in sight.
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.curation_marks import curation_marks
from tui.widgets.message_bubble import MessageBubble


class ConversationView(VerticalScroll):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.speakers: dict[str, str] = {"user": "you", "assistant": "assistant"}
        self.picked: int | None = None
        self._turns: list = []

    def on_mount(self) -> None:
        self.anchor()  # follow the newest text until the person scrolls up

    @property
    def bubbles(self) -> list[MessageBubble]:
        return list(self.query_children(MessageBubble))

    def _bubble(self, turn, marks: str) -> MessageBubble:
        return MessageBubble(turn.role, self.speakers.get(turn.role, turn.role), turn.content, turn.reasoning,
                             turn.stats, marks)

    def _marks(self, turns) -> list[tuple[str, bool]]:
        """(the marks, whether it is the picked reply) for each of `turns`."""
        out, number = [], 0
        for turn in turns:
            number += turn.role == "assistant"
            picked = turn.role == "assistant" and number == self.picked
            out.append((" · ".join(filter(None, [f"▸ #{number}" if picked else "", curation_marks(turn)])), picked))
        return out

    async def show_turns(self, turns) -> None:
        """Make the bubbles show exactly `turns` (companion.session.Turn items)."""
        await self.query_children(".notice").remove()
        self._turns = list(turns)
        bubbles = self.bubbles
        marks = self._marks(turns)
        same = 0
        for bubble, turn in zip(bubbles, turns):
            if bubble.key != (turn.role, turn.content, turn.reasoning):
                break
            same += 1
        if bubbles[same:]:
            await self.remove_children(bubbles[same:])
        if turns[same:]:
            await self.mount_all([self._bubble(turn, mark) for turn, (mark, _) in zip(turns[same:], marks[same:])])
        self._show_pick(marks)

    def pick(self, number: int | None) -> None:
        """Mark the companion's reply `number` (None: none, the last reply is what acts) and bring it into sight."""
        self.picked = number
        self._show_pick(self._marks(self._turns))

    def _show_pick(self, marks: list[tuple[str, bool]]) -> None:
        picked = None
        for bubble, (mark, is_picked) in zip(self.bubbles, marks):
            bubble.mark(mark)
            bubble.set_class(is_picked, "-picked")
            picked = bubble if is_picked else picked
        if picked is None:
            self.anchor()
        else:  # an earlier reply: stop following the newest text and show that one
            self.anchor(False)
            self.scroll_to_widget(picked, animate=False)

    async def start_reply(self) -> MessageBubble:
        bubble = MessageBubble("assistant", self.speakers["assistant"])
        await self.mount(bubble)
        self.anchor()
        return bubble

    async def notice(self, text: str) -> None:
        """A line from the app itself (not part of the chat), shown until the conversation changes."""
        await self.mount(Static(text, classes="notice", markup=False))
        self.anchor()
