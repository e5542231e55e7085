"""What the screens that stream a model's reply share (chat and tarot): joining fast tokens into screen updates,
and what they say when there is no model to talk to yet."""

from __future__ import annotations

import time
from typing import Iterable, Iterator

from companion.reasoning import Chunk

# How often a streaming reply is pushed to the screen: tokens arriving faster are joined first.
FLUSH_INTERVAL_S = 1 / 30

NO_MODEL = "no exported model yet — train a run (t on the home screen), then merge and export it (e)"


def batched(chunks: Iterable[Chunk], interval: float = FLUSH_INTERVAL_S) -> Iterator[Chunk]:
    """Join consecutive chunks of the same kind that arrive within `interval` of the last flush."""
    pending: list[str] = []
    kind = None
    flushed_at = time.monotonic()
    for chunk in chunks:
        if pending and chunk.kind != kind:
            yield Chunk("".join(pending), kind)
            pending = []
        pending.append(chunk.text)
        kind = chunk.kind
        now = time.monotonic()
        if now - flushed_at >= interval:
            yield Chunk("".join(pending), kind)
            pending, flushed_at = [], now
    if pending:
        yield Chunk("".join(pending), kind)
