"""Keep everything but the app itself off the screen while the TUI runs.

Textual draws on file descriptor 2 (its Linux driver writes to `sys.__stderr__`). llama.cpp and its
backends also write to fd 2 — some of it straight from C, around `hearth.llama`'s log sink — and
`hearth.llama.silenced_stderr()` points fd 2 at /dev/null while a model loads, which would blank
the app's own drawing for that moment. So for the app's lifetime fd 2 goes to a log file, and the
app draws on a private duplicate of the terminal that nothing else writes to.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator


def driver_drawing_on(terminal):
    """A Textual driver class that draws on `terminal` (a text stream) instead of fd 2, or None
    where the platform's driver is not the POSIX one (the app then keeps Textual's default)."""
    if os.name != "posix":
        return None
    from textual.drivers.linux_driver import LinuxDriver

    class TerminalDriver(LinuxDriver):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._file = terminal

    return TerminalDriver


@contextlib.contextmanager
def stderr_to_log(log_path: Path) -> Iterator[object | None]:
    """Point fd 2 at `log_path` for the block; yields a text stream on the real terminal for the
    app to draw on (None where fd 2 cannot be moved, e.g. not a POSIX system)."""
    if os.name != "posix":
        yield None
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    terminal_fd = os.dup(2)
    terminal = open(terminal_fd, "w", encoding="utf-8", errors="replace", closefd=True)
    with open(log_path, "a", encoding="utf-8") as log:
        os.dup2(log.fileno(), 2)
        python_stderr, sys.stderr = sys.stderr, terminal
        try:
            yield terminal
        finally:
            sys.stderr = python_stderr
            terminal.flush()
            os.dup2(terminal.fileno(), 2)
            terminal.close()
