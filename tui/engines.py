"""The one model the app keeps loaded.

Chats share it: reopening a chat with the same model and settings costs nothing, and switching to
another model closes the old one first, so two models never sit in memory at once. One lock covers
loading, switching and generating, so a model is never closed under a reply that is still streaming
from it: closing first sets that reply's cancel event, then waits (at most one token) for it to stop.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator


class EngineHolder:
    def __init__(self):
        self._engine = None
        self._lock = threading.Lock()
        self._streaming: threading.Event | None = None  # the cancel event of the reply streaming now

    def get(self, settings):
        """The engine for `settings` (companion.settings.EngineSettings), loading it if needed.
        Slow the first time: call it from a worker thread."""
        from companion.engine import Engine

        with self._lock:
            if self._engine is not None and self._engine.settings == settings:
                return self._engine
            self._close_locked()
            self._engine = Engine(settings)
            return self._engine

    @contextlib.contextmanager
    def in_use(self, cancel: threading.Event) -> Iterator[None]:
        """Hold while a reply streams, so nobody closes or swaps the model underneath it; `cancel`
        is the reply's cancel event, which `close` sets."""
        with self._lock:
            self._streaming = cancel
            try:
                yield
            finally:
                self._streaming = None

    def close(self) -> None:
        streaming = self._streaming
        if streaming is not None:
            streaming.set()
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
