"""How a job is going: a progress bar, the latest numbers, and for training the loss as a sparkline with
tokens/s, the time left and memory beside it (tui/train_rates.py works them out from the step events)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Sparkline, Static

from tui.step_lines import fmt_number  # the CLI's number formatting, shared
from tui.train_rates import StepRate, rates_text


def step_line(event: dict, eval_loss: float | None = None) -> str:
    """A `step` event as one line: where training is and its losses (the rates sit beside the curve)."""
    line = f"step {event.get('step')}/{event.get('max_steps')} · loss {fmt_number(event.get('loss'), '.4f')}"
    return line if eval_loss is None else f"{line} · eval loss {fmt_number(eval_loss, '.4f')}"


class TrainProgress(Vertical):
    """Only the status line shows until a job begins (the `-idle` class hides the rest), and the
    numbers once training reports a step (`-stepping`) and the loss once it has two points (`-curve`)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(classes="-idle", **kwargs)
        self.losses: list[float] = []
        self.eval_losses: list[float] = []
        self.rate = StepRate()
        self._last_step: dict = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="job-status", markup=False)
        yield ProgressBar(total=None, show_eta=False, id="job-bar")
        yield Static("", id="job-metrics", markup=False)
        with Horizontal(id="job-graph"):
            yield Sparkline([], id="loss-sparkline")
            yield Static("", id="job-rates", markup=False)

    def begin(self, title: str) -> None:
        """A job starts: the bar waits (indeterminate) until the first step says how far there is to go."""
        self.losses, self.eval_losses, self.rate, self._last_step = [], [], StepRate(), {}
        self.remove_class("-idle", "-stepping", "-curve")
        self.query_one(Sparkline).data = []
        self.query_one(ProgressBar).update(total=None, progress=0)
        self.query_one("#job-metrics", Static).update("")
        self.query_one("#job-rates", Static).update("")
        self.status(title)

    def status(self, text: str) -> None:
        self.query_one("#job-status", Static).update(text)

    def step(self, event: dict) -> None:
        self.add_class("-stepping")
        self.query_one(ProgressBar).update(total=event.get("max_steps"), progress=event.get("step", 0))
        self.rate.observe(event)
        self._last_step = event
        self._show_metrics()
        self.query_one("#job-rates", Static).update(rates_text(event, self.rate.eta_s(event)))
        if isinstance(event.get("loss"), (int, float)):
            self.losses.append(float(event["loss"]))
            self.query_one(Sparkline).data = list(self.losses)
            self.set_class(len(self.losses) > 1, "-curve")  # one point draws a solid block, not a curve

    def evaluated(self, event: dict) -> None:
        """An `eval` event: its loss joins the numbers line (the log keeps every one)."""
        if isinstance(event.get("eval_loss"), (int, float)):
            self.eval_losses.append(float(event["eval_loss"]))
            self._show_metrics()

    def _show_metrics(self) -> None:
        if self._last_step:
            last_eval = self.eval_losses[-1] if self.eval_losses else None
            self.query_one("#job-metrics", Static).update(step_line(self._last_step, last_eval))

    def end(self, text: str, finished: bool) -> None:
        """The job ended; a finished one fills the bar, a stopped or failed one leaves it where it was."""
        bar = self.query_one(ProgressBar)
        if finished:
            total = bar.total or 1
            bar.update(total=total, progress=total)
        elif bar.total is None:
            bar.update(total=1, progress=0)
        self.status(text)
