"""While the app runs, C-level writes to fd 2 (llama.cpp's) land in a log file, and the app draws on
its own handle to the terminal, which those writes cannot reach."""

from __future__ import annotations

import os
import sys

from tui.terminal import driver_drawing_on, stderr_to_log


def test_fd2_goes_to_the_log_and_the_app_keeps_the_terminal(tmp_path, capfd):
    log = tmp_path / "logs" / "tui-stderr.log"
    with stderr_to_log(log) as terminal:
        os.write(2, b"llama_model_loader: loaded meta data\n")  # what C code writes
        terminal.write("the app's own drawing\n")
        terminal.flush()
        assert sys.stderr is terminal  # a traceback printed as the app stops still reaches the person
    os.write(2, b"after the app\n")
    seen = capfd.readouterr().err
    assert "the app's own drawing" in seen and "after the app" in seen
    assert "llama_model_loader" not in seen
    assert "llama_model_loader: loaded meta data" in log.read_text(encoding="utf-8")


async def test_the_driver_draws_on_the_given_stream():
    import io
    import signal

    from textual.app import App

    stream = io.StringIO()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTSTP, signal.SIGCONT)}
    try:
        driver = driver_drawing_on(stream)(App())
    finally:
        for sig, handler in handlers.items():  # the driver installs suspend/resume handlers
            signal.signal(sig, handler)
    assert driver._file is stream  # Textual's Linux driver otherwise draws on sys.__stderr__ (fd 2)
