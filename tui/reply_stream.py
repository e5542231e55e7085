"""A model's reply streamed onto a rich console as it comes: reasoning dimmed (or hidden), the answer plain,
a line of stats after it; Ctrl-C while it streams stops that reply, not the program."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Callable

from rich.console import Console
from rich.text import Text


@contextlib.contextmanager
def ctrl_c_cancels(event: threading.Event):
    """While a reply streams, Ctrl-C sets the cancel event instead of raising."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda *_: event.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


STYLES = {"reasoning": "dim italic", "answer": ""}


def stats_line(reply) -> str:
    from companion.engine import FINISH_NOTES  # loaded here, as only a reply needs it

    speed = f"{reply.tokens_per_s:.1f} tok/s · " if reply.tokens_per_s else ""
    note = FINISH_NOTES.get(reply.finish_reason)
    ended = f" · {note}" if note else ""
    return f"{reply.completion_tokens} tokens · {speed}first token {reply.ttft_s:.2f}s{ended}"


def show_reply(console: Console, speaker: str, make_stream: Callable, show_thinking: bool = True, stats: bool = True):
    """Stream a reply onto the console, reasoning dimmed (or hidden); returns the Reply."""
    cancel = threading.Event()
    console.print(Text(f"{speaker} › ", style="bold magenta"), end="")
    last_kind = None
    with ctrl_c_cancels(cancel):
        stream = make_stream(cancel)
        for chunk in stream:
            if chunk.kind == "reasoning" and not show_thinking:
                continue
            if last_kind == "reasoning" and chunk.kind == "answer":
                console.print()
            console.print(Text(chunk.text, style=STYLES[chunk.kind]), end="", soft_wrap=True)
            last_kind = chunk.kind
    console.print()
    if stats and stream.reply is not None:
        console.print(Text(stats_line(stream.reply), style="dim"))
    return stream.reply
