"""A reply's reasoning (`<think>…</think>`), dimmed and folded away once the answer begins."""

from __future__ import annotations

from textual.widgets import Collapsible, Static

THINKING, THOUGHT = "thinking…", "thoughts"


class ReasoningBlock(Collapsible):
    def __init__(self, text: str = "") -> None:
        self.text = text
        super().__init__(Static(text, markup=False, classes="thoughts"), title=THOUGHT if text else THINKING,
                         collapsed=bool(text), classes="reasoning")
        self.display = bool(text)

    def add(self, text: str) -> None:
        """More reasoning streamed in: shown open while the model thinks."""
        self.text += text
        self.display = True
        self.query_one(".thoughts", Static).update(self.text)

    def settle(self) -> None:
        """The answer has begun (or the reply ended): fold the thoughts away."""
        if self.text and self.title != THOUGHT:
            self.title = THOUGHT
            self.collapsed = True
