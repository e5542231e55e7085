"""llama-cpp-python, kept quiet, for every room that opens a GGUF (export's verification and quantizer, eval's
GGUF sides): llama.cpp writes its logging from C straight to file descriptors
1 and 2, and llama-cpp-python's log callback to `sys.stderr`. Around every call into it we point
both at a temporary file, so nothing leaks into the TUI or the event stream on stdout; with
`--verbose` (HEARTH_VERBOSE=1) it all flows through as it comes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from hearth.chat_template import llama_cpp_renders_in_this_sandbox


def verbose() -> bool:
    return os.environ.get("HEARTH_VERBOSE") == "1"


def _baseline_level() -> int:
    """Outside a capture, llama-cpp-python's log callback passes only errors (everything with --verbose);
    its own default (NOTSET) would print every debug line llama.cpp makes during decoding."""
    return logging.DEBUG if verbose() else logging.ERROR


@dataclass
class Captured:
    text: str = ""

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.text.strip().splitlines()[-lines:])


@contextlib.contextmanager
def native_output(level: int = logging.ERROR) -> Iterator[Captured]:
    """Capture what llama.cpp prints inside the block (its `.text` is filled on exit).

    `level` is the lowest llama-cpp-python log level kept in the capture (INFO for the quantizer's
    per-tensor lines). Shown live instead when HEARTH_VERBOSE=1."""
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
