"""The running story of a job: its stages, evaluations, saved files and warnings, one line each."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import RichLog

from tui.event_lines import event_line


class JobLog(RichLog):
    def __init__(self, **kwargs) -> None:
        # min_width: RichLog's default (78) wraps wider than an 80-column log shows, so line ends were lost
        super().__init__(wrap=True, markup=False, highlight=False, min_width=1, **kwargs)

    def show_event(self, event: dict) -> None:
        line = event_line(event)  # `step` events are drawn by TrainProgress, not logged
        if line is not None:
            self.write(line)

    def say(self, text: str, style: str = "") -> None:
        self.write(Text(text, style=style))
