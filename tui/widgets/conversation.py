"""The scrolling conversation: one bubble per turn of the session, plus the reply being written.

`show_turns` makes the bubbles match the session's turns with as little redrawing as possible: the
bubbles that already match stay, the rest are replaced. So retry, undo and a new chat are all the
same call, and a streamed reply that the session stored keeps its bubble. A bubble that stays takes
the turn's curation marks (a rating, the alternative's number) in place.
"""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.widgets.message_bubble import MessageBubble, curation_marks


class ConversationView(VerticalScroll):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.speakers: dict[str, str] = {"user": "you", "assistant": "assistant"}

    def on_mount(self) -> None:
        self.anchor()  # follow the newest text until the person scrolls up

    @property
    def bubbles(self) -> list[MessageBubble]:
        return list(self.query_children(MessageBubble))

    def _bubble(self, turn) -> MessageBubble:
        return MessageBubble(turn.role, self.speakers.get(turn.role, turn.role), turn.content, turn.reasoning,
                             turn.stats, curation_marks(turn))

    async def show_turns(self, turns) -> None:
        """Make the bubbles show exactly `turns` (companion.session.Turn items)."""
        await self.query_children(".notice").remove()
        bubbles = self.bubbles
        same = 0
        for bubble, turn in zip(bubbles, turns):
            if bubble.key != (turn.role, turn.content, turn.reasoning):
                break
            bubble.mark(curation_marks(turn))
            same += 1
        if bubbles[same:]:
            await self.remove_children(bubbles[same:])
        if turns[same:]:
            await self.mount_all([self._bubble(turn) for turn in turns[same:]])
        self.anchor()

    async def start_reply(self) -> MessageBubble:
        bubble = MessageBubble("assistant", self.speakers["assistant"])
        await self.mount(bubble)
        self.anchor()
        return bubble

    async def notice(self, text: str) -> None:
        """A line from the app itself (not part of the chat), shown until the conversation changes."""
        await self.mount(Static(text, classes="notice", markup=False))
        self.anchor()
