"""One message of a conversation: who said it (and beside the name what curation did to it: which of
the alternatives shows, its rating, whether it was edited), the reasoning (for replies that think), the
text as Markdown, and under a reply its tokens/s and time to first token. The reply the chat screen's
alt+↑/↓ picked (what its edit and rate act on) has the class `-picked`: a bar on its right."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Markdown, Static

from companion.engine import FINISH_NOTES
from companion.reasoning import REASONING
from tui.widgets.reasoning_block import ReasoningBlock


def stats_line(stats: dict) -> str:
    """`companion.engine.Reply.stats()` (or a stored message's stats) as one short line."""
    if not stats:
        return ""
    parts = [f"{stats.get('completion_tokens', 0)} tokens"]
    if stats.get("tokens_per_s"):
        parts.append(f"{stats['tokens_per_s']:.1f} tok/s")
    if stats.get("ttft_s") is not None:
        parts.append(f"first token {stats['ttft_s']:.2f}s")
    note = FINISH_NOTES.get(stats.get("finish_reason", ""))
    if note:
        parts.append(note)
    return " · ".join(parts)


class MessageBubble(Vertical):
    # the app's stylesheet gives a bubble its left bar and background; the pick is the right side's
    DEFAULT_CSS = """
    MessageBubble.-picked {
        border-right: thick $accent;
    }
    """

    def __init__(self, role: str, speaker: str, content: str = "", reasoning: str = "",
                 stats: dict | None = None, marks: str = "") -> None:
        super().__init__(classes=f"bubble {role}")
        self.role = role
        self.speaker = speaker
        self.content = content
        self.reasoning = reasoning
        self.stats = stats or {}
        self.marks = marks
        self._stream = None  # a MarkdownStream while the reply streams

    @property
    def key(self) -> tuple[str, str, str]:
        """What the bubble shows, to match it against the session's turns."""
        return self.role, self.content, self.reasoning

    def compose(self) -> ComposeResult:
        with Horizontal(classes="head"):
            yield Label(self.speaker, classes="speaker")
            yield Label(self.marks, classes="marks", markup=False)
        yield ReasoningBlock(self.reasoning)
        yield Markdown(self.content, classes="body")
        yield Static(stats_line(self.stats), classes="stats", markup=False)

    @property
    def body(self) -> Markdown:
        return self.query_one(".body", Markdown)

    def mark(self, marks: str) -> None:
        """Show what curation did to this message now (a rating changes it without changing the text)."""
        if marks != self.marks:
            self.marks = marks
            self.query_one(".marks", Label).update(marks)

    async def add(self, text: str, kind: str) -> None:
        """A streamed piece of the reply."""
        if kind == REASONING:
            self.reasoning += text
            self.query_one(ReasoningBlock).add(text)
            return
        self.query_one(ReasoningBlock).settle()
        self.content += text
        if self._stream is None:
            self._stream = Markdown.get_stream(self.body)
        await self._stream.write(text)

    async def finish(self, reply) -> None:
        """The reply ended: show it as the session stored it, with its numbers underneath."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.query_one(ReasoningBlock).settle()
        self.content, self.reasoning, self.stats = reply.text, reply.reasoning, reply.stats()
        await self.body.update(self.content)
        self.query_one(".stats", Static).update(stats_line(self.stats))
