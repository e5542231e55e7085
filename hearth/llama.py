"""llama-cpp-python, kept quiet, for every room that opens a GGUF (chat's engine, export's verification and
quantizer, eval's GGUF sides), so nothing leaks into the TUI or the event stream on stdout; with `--verbose`
(hearth.verbosity) it all flows through as it comes.

llama.cpp talks on two channels:
- its log callback (model loading, context setup, warnings, even errors), which llama-cpp-python passes to the
  `llama-cpp-python` logger on `sys.stderr`; `install_log_sink()` replaces it with one that keeps the last lines
  (so error messages can quote them, `recent_log()`) and prints them only with --verbose, or when a capture asked
  the logger for INFO lines (the quantizer does);
- writes some backends make straight to file descriptors 1 and 2 before any callback exists: `native_output()`
  captures both into a temporary file around a call (its text is there to quote), `silenced_stderr()` only
  points fd 2 at /dev/null while the chat engine loads a model (the log sink keeps what is worth quoting).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import io
import logging
import os
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from hearth.chat_template import llama_cpp_renders_in_this_sandbox

# How a completion ended, in llama.cpp's words (hearth's own Hugging Face generations say it the same way): at the
# end of its turn, or at the token limit. The chat engine adds its own CANCELLED.
STOP, LENGTH = "stop", "length"
from hearth.verbosity import verbose

_recent_lines: collections.deque[str] = collections.deque(maxlen=40)
_callback = None  # the ctypes callback object must stay referenced while llama.cpp holds it
_lock = threading.Lock()


def _baseline_level() -> int:
    """Outside a capture, llama-cpp-python's log callback passes only errors (everything with --verbose);
    its own default (NOTSET) would print every debug line llama.cpp makes during decoding."""
    return logging.DEBUG if verbose() else logging.ERROR


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


@dataclass
class Captured:
    text: str = ""

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.text.strip().splitlines()[-lines:])


@contextlib.contextmanager
def native_output(level: int = logging.ERROR) -> Iterator[Captured]:
    """Capture what llama.cpp prints inside the block (its `.text` is filled on exit).

    `level` is the lowest llama-cpp-python log level kept in the capture (INFO for the quantizer's
    per-tensor lines). Shown live instead with --verbose."""
    captured = Captured()
    logger = logging.getLogger("llama-cpp-python")
    if verbose():
        logger.setLevel(logging.DEBUG)
        yield captured
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    old_stderr = sys.stderr
    with tempfile.TemporaryFile() as sink:
        try:
            for fd in saved:
                os.dup2(sink.fileno(), fd)
            # the log callback prints to sys.stderr, which under pytest or a TUI may not be fd 2
            sys.stderr = io.TextIOWrapper(os.fdopen(os.dup(2), "wb"), encoding="utf-8", errors="replace",
                                          line_buffering=True)
            logger.setLevel(level)
            yield captured
        finally:
            logger.setLevel(_baseline_level())
            sys.stderr.flush()
            sys.stderr.close()
            sys.stderr = old_stderr
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            sink.seek(0)
            captured.text = sink.read().decode("utf-8", errors="replace")


@contextlib.contextmanager
def open_llama(path: Path, **kwargs) -> Iterator["llama_cpp.Llama"]:  # noqa: F821
    """A `llama_cpp.Llama` on a GGUF file, loaded quietly, closed when the block ends."""
    from llama_cpp import Llama

    kwargs.setdefault("n_threads", os.cpu_count() or 1)
    with native_output(), llama_cpp_renders_in_this_sandbox():
        llm = Llama(str(path), verbose=verbose(), **kwargs)
    logging.getLogger("llama-cpp-python").setLevel(_baseline_level())  # Llama() set its own
    try:
        yield llm
    finally:
        with native_output():
            llm.close()


def eval_logits(llm, ids: list[int]):
    """The logits llama.cpp gives at every position of `ids` (the Llama was opened with logits_all=True)."""
    import numpy as np

    with native_output():
        llm.reset()
        llm.eval(ids)
    return np.array(llm.scores[: len(ids)], dtype=np.float32)
