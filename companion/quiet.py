"""Keep llama.cpp's C logging out of the terminal unless the user asked for it (`--verbose`,
which sets HEARTH_VERBOSE=1).

Two channels need closing: llama.cpp's log callback (model loading, context setup, warnings, even
errors), and writes some backends make straight to file descriptor 2 before any callback exists.
The callback becomes a sink that keeps the last lines (so our error messages can quote them) and
prints them only with --verbose, or when another part of hearth asked llama-cpp-python's logger for
INFO lines to capture them (the exporter does, around quantization). The second channel is closed by
pointing fd 2 at /dev/null around loading.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import logging
import os
import sys
import threading
from typing import Iterator

_recent_lines: collections.deque[str] = collections.deque(maxlen=40)
_callback = None  # the ctypes callback object must stay referenced while llama.cpp holds it
_lock = threading.Lock()


def verbose() -> bool:
    return os.environ.get("HEARTH_VERBOSE") == "1"


def install_log_sink() -> None:
    """Route llama.cpp's log through us: printed with --verbose, otherwise only remembered."""
    global _callback
    import llama_cpp

    with _lock:
        if _callback is not None:
            return

        @llama_cpp.llama_log_callback
        def _sink(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            line = text.decode("utf-8", errors="replace")
            _recent_lines.append(line)
            if verbose() or logging.NOTSET < logging.getLogger("llama-cpp-python").level <= logging.INFO:
                sys.stderr.write(line)
                sys.stderr.flush()

        _callback = _sink
        llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))


def recent_log(max_lines: int = 6) -> str:
    """The last few lines llama.cpp logged, joined, for an error message."""
    lines = "".join(_recent_lines).strip().splitlines()
    return " | ".join(line.strip() for line in lines[-max_lines:] if line.strip())


@contextlib.contextmanager
def silenced_stderr() -> Iterator[None]:
    """Point fd 2 at /dev/null for the block, unless verbose. Not for blocks that yield to callers."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w", encoding="utf-8") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
