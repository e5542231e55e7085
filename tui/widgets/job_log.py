"""The running story of a job: its stages, evaluations, saved files and warnings, one line each."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from tui.progress import _fmt  # the CLI's number formatting, shared


# event kind -> (how to say it, style). `step` events are drawn by TrainProgress, not logged.
EVENT_LINES = {
    "stage": (lambda e: e.get("message", ""), ""),
    "eval": (lambda e: f"eval at step {e.get('step')}: loss {_fmt(e.get('eval_loss'), '.4f')}", "cyan"),
    "saved": (lambda e: f"saved {e.get('path')}", "dim"),
    "warning": (lambda e: f"warning: {e.get('message')}", "yellow"),
    "log": (lambda e: e.get("text", ""), "dim"),
}


class JobLog(RichLog):
    def __init__(self, **kwargs) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, **kwargs)

    def show_event(self, event: dict) -> None:
        line = EVENT_LINES.get(event.get("event"))
        if line is not None:
            say, style = line
            self.write(Text(say(event), style=style))

    def say(self, text: str, style: str = "") -> None:
        self.write(Text(text, style=style))
