"""Separate a model's reasoning (`<think>…</think>`, as DeepSeek-R1-Distill models write it) from
its answer while the text streams in, so a front end can show the thinking dimmed or hide it.

Tags may arrive split across chunks (`<thi` + `nk>`): the splitter holds back any tail that could
still become a tag and releases it as soon as it cannot.
"""

from __future__ import annotations

from dataclasses import dataclass

ANSWER = "answer"
REASONING = "reasoning"

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"
# In each state: the tag that switches away from it, and the state it switches to.
TRANSITIONS = {
    ANSWER: (OPEN_TAG, REASONING),
    REASONING: (CLOSE_TAG, ANSWER),
}


@dataclass(frozen=True)
class Chunk:
    text: str
    kind: str = ANSWER  # ANSWER or REASONING


def _partial_tag_length(text: str, tag: str) -> int:
    """Length of the longest tail of `text` that is a proper beginning of `tag`."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if tag.startswith(text[-size:]):
            return size
    return 0


class ReasoningSplitter:
    """Feed text pieces in order; get back chunks labelled answer or reasoning.

    `start_in_reasoning` is for templates whose generation prompt already opens `<think>`
    (R1-Distill's does), so the model's first words are reasoning without an opening tag.
    Whitespace right after a block closes is dropped: models put a blank line there.
    """

    def __init__(self, start_in_reasoning: bool = False):
        self.state = REASONING if start_in_reasoning else ANSWER
        self._pending = ""
        self._strip_leading = start_in_reasoning
        self.answer_parts: list[str] = []
        self.reasoning_parts: list[str] = []

    def feed(self, text: str) -> list[Chunk]:
        chunks: list[Chunk] = []
        buffer = self._pending + text
        while buffer:
            tag, next_state = TRANSITIONS[self.state]
            at = buffer.find(tag)
            if at >= 0:
                self._emit(buffer[:at], chunks)
                buffer = buffer[at + len(tag) :]
                self.state = next_state
                self._strip_leading = True
                continue
            keep = _partial_tag_length(buffer, tag)
            self._emit(buffer[: len(buffer) - keep], chunks)
            buffer = buffer[len(buffer) - keep :]
            break
        self._pending = buffer
        return chunks

    def finish(self) -> list[Chunk]:
        """Release whatever was held back as a possible tag: the stream has ended."""
        chunks: list[Chunk] = []
        self._emit(self._pending, chunks)
        self._pending = ""
        return chunks

    def _emit(self, text: str, chunks: list[Chunk]) -> None:
        if self._strip_leading:
            text = text.lstrip()
            if not text:
                return
            self._strip_leading = False
        if not text:
            return
        (self.reasoning_parts if self.state == REASONING else self.answer_parts).append(text)
        chunks.append(Chunk(text, self.state))

    @property
    def answer(self) -> str:
        return "".join(self.answer_parts).strip()

    @property
    def reasoning(self) -> str:
        return "".join(self.reasoning_parts).strip()


def prompt_opens_reasoning(prompt_text: str) -> bool:
    """True when the rendered prompt ends inside an unclosed `<think>` (the model continues it)."""
    opened = prompt_text.rfind(OPEN_TAG)
    return opened >= 0 and prompt_text.find(CLOSE_TAG, opened) < 0


def split_reasoning(text: str) -> tuple[str, str]:
    """Whole-text version: (answer, reasoning)."""
    splitter = ReasoningSplitter()
    splitter.feed(text)
    splitter.finish()
    return splitter.answer, splitter.reasoning
