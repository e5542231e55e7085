"""`hearth` with no arguments opens the app in a terminal and prints help anywhere else (tui/cli.py main)."""

from __future__ import annotations

import sys

import pytest

from tui import cli
from tui.commands import tui as tui_command


class _Stream:
    def __init__(self, tty: bool):
        self.tty = tty
        self.written = []

    def isatty(self) -> bool:
        return self.tty

    def write(self, text: str) -> int:
        self.written.append(text)
        return len(text)

    def flush(self) -> None:
        pass


@pytest.fixture
def app_calls(monkeypatch):
    calls = []
    # register() reads the module's run_tui when the parser is built, so the stand-in is what `tui` points at
    monkeypatch.setattr(tui_command, "run_tui", lambda args: calls.append(args) or 0)
    return calls


def test_no_arguments_in_a_terminal_opens_the_app(monkeypatch, app_calls):
    monkeypatch.setattr(sys, "stdin", _Stream(tty=True))
    monkeypatch.setattr(sys, "stdout", _Stream(tty=True))
    assert cli.main([]) == 0
    assert len(app_calls) == 1 and app_calls[0].command == "tui" and app_calls[0].user is None


@pytest.mark.parametrize("stdin_tty, stdout_tty", [(False, True), (True, False), (False, False)])
def test_no_arguments_without_a_terminal_prints_help(monkeypatch, app_calls, stdin_tty, stdout_tty):
    monkeypatch.setattr(sys, "stdin", _Stream(tty=stdin_tty))
    out = _Stream(tty=stdout_tty)
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main([]) == 0
    assert app_calls == []
    assert "usage: hearth" in "".join(out.written)


def test_arguments_in_a_terminal_run_the_command_not_the_app(monkeypatch, app_calls):
    monkeypatch.setattr(sys, "stdin", _Stream(tty=True))
    out = _Stream(tty=True)
    monkeypatch.setattr(sys, "stdout", out)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    assert app_calls == [] and "usage: hearth" in "".join(out.written)
