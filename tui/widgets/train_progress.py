"""How a job is going: a progress bar, the latest numbers, and for training the loss as a sparkline."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import ProgressBar, Sparkline, Static

from tui.progress import _fmt  # the CLI's number formatting, shared


def step_line(event: dict) -> str:
    """A `step` event as one line: where training is and how fast it goes."""
    return (
        f"step {event.get('step')}/{event.get('max_steps')} · loss {_fmt(event.get('loss'), '.4f')} · "
        f"{_fmt(event.get('tokens_per_s'), ',.0f')} tok/s · eta {_fmt(event.get('eta_s'), '.0f')}s"
    )


class TrainProgress(Vertical):
    """Only the status line shows until a job begins (the `-idle` class hides the rest), and the
    numbers once training reports a step (`-stepping`) and the loss once it has two points (`-curve`)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(classes="-idle", **kwargs)
        self.losses: list[float] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="job-status", markup=False)
        yield ProgressBar(total=None, show_eta=False, id="job-bar")
        yield Static("", id="job-metrics", markup=False)
        yield Sparkline([], id="loss-sparkline")

    def begin(self, title: str) -> None:
        """A job starts: the bar waits (indeterminate) until the first step says how far there is to go."""
        self.losses = []
        self.remove_class("-idle", "-stepping", "-curve")
        self.query_one(Sparkline).data = []
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#job-metrics", Static).update("")
        self.status(title)

    def status(self, text: str) -> None:
        self.query_one("#job-status", Static).update(text)

    def step(self, event: dict) -> None:
        self.add_class("-stepping")
        self.query_one(ProgressBar).update(total=event.get("max_steps"), progress=event.get("step", 0))
        self.query_one("#job-metrics", Static).update(step_line(event))
        if isinstance(event.get("loss"), (int, float)):
            self.losses.append(float(event["loss"]))
            self.query_one(Sparkline).data = list(self.losses)
            self.set_class(len(self.losses) > 1, "-curve")  # one point draws a solid block, not a curve

    def end(self, text: str, finished: bool) -> None:
        """The job ended; a finished one fills the bar, a stopped or failed one leaves it where it was."""
        bar = self.query_one(ProgressBar)
        if finished:
            total = bar.total or 1
            bar.update(total=total, progress=total)
        elif bar.total is None:
            bar.update(total=1, progress=0)
        self.status(text)
