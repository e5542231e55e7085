"""A job's events read the same in the CLI and in the TUI's job log: one table of lines for both."""

from __future__ import annotations

import io

from rich.console import Console

from hearth.events import KINDS
from tui.event_lines import EVENT_LINES, event_line


def test_every_line_is_a_kind_of_the_protocol_and_step_done_error_are_not_lines():
    assert set(EVENT_LINES) <= set(KINDS)
    assert all(event_line({"event": kind}) is None for kind in ("step", "done", "error", "no-such-kind"))


def test_lines_say_the_event_with_its_style():
    eval_line = event_line({"event": "eval", "step": 4, "eval_loss": 1.23456})
    assert eval_line.plain == "eval at step 4: loss 1.2346" and str(eval_line.style) == "cyan"
    assert event_line({"event": "warning", "message": "the data is small"}).plain == "warning: the data is small"
    assert event_line({"event": "eval", "step": 4}).plain == "eval at step 4: loss -"
    preference = {"event": "eval", "step": 6, "eval_loss": 0.5, "reward_margin": 0.25, "reward_accuracy": 0.75}
    assert event_line(preference).plain == "eval at step 6: loss 0.5000, reward margin +0.250 (75% chosen)"


def test_the_cli_draws_the_same_line(monkeypatch):
    """tui.progress.run_job prints each line indented, with brackets in a message kept as text (never markup)."""
    import tui.progress as progress

    events = [{"event": "stage", "message": "reading [bold] data"}, {"event": "eval", "step": 2, "eval_loss": 0.5},
              {"event": "log", "text": "hidden without --verbose"}, {"event": "done", "path": "x"}]

    class FakeJob:
        returncode = 0
        process = None

        def __init__(self, *args, **kwargs):
            pass

        def events(self):
            yield from events

    out = io.StringIO()
    monkeypatch.setattr(progress, "ChildJob", FakeJob)
    monkeypatch.setattr(progress, "console", Console(file=out, width=120, highlight=False))
    monkeypatch.delenv("HEARTH_VERBOSE", raising=False)
    assert progress.run_job("exporter", [], "export")["path"] == "x"
    printed = out.getvalue()
    assert "  reading [bold] data\n" in printed and "  eval at step 2: loss 0.5000\n" in printed
    assert "hidden" not in printed
