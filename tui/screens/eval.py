"""A run's eval: the measures table, the verdict and the replies side by side (tui/eval_view.py, the same drawing
as `hearth eval`), read from runs/<id>/eval/eval.json. `r` runs a new eval — the same child process as the CLI,
`python -m tuner eval RUN_DIR` — and shows it when it is done; Esc goes back.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from hearth.events import STAGE
from hearth.paths import RunPaths
from tui.jobs import JobRunner
from tui.messages import JobEnded, JobEvent


class EvalScreen(Screen):
    BINDINGS = [Binding("escape", "back", "back"), Binding("r", "evaluate", "run eval")]

    def __init__(self, run: RunPaths):
        super().__init__()
        self.run = run
        self.runner: JobRunner | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="eval-status")
        with VerticalScroll(id="eval-body"):
            yield Static("", id="eval-report")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = f"eval of {self.run.root.name}"
        self.show_report()

    def show_report(self) -> None:
        from tuner.evaluate import read_report
        from tui.eval_view import eval_view

        report = read_report(self.run.root)
        status, body = self.query_one("#eval-status", Static), self.query_one("#eval-report", Static)
        if report is None:
            status.update(f"no eval of {self.run.root.name} yet — press r to run one "
                          f"(or `hearth eval {self.run.root.name}`)")
            body.update("")
            return
        budget = report.settings.get("max_new_tokens")
        budget = f"up to {budget} tokens a reply (2× its reference)" if report.settings.get("per_reference") \
            else f"{budget} tokens a reply"
        status.update(f"{report.created} · {budget}, seed {report.settings.get('seed')}")
        body.update(eval_view(report, with_definitions=True))

    def action_evaluate(self) -> None:
        if self.runner is not None:
            self.notify("an eval is already running", severity="warning")
            return
        from tuner.evaluate.run import eval_args

        self.runner = JobRunner("eval", "tuner", eval_args(self.run.root), self.post_message)
        self.query_one("#eval-status", Static).update("evaluating: loading the base and the adapter…")
        self._follow(self.runner)

    @work(thread=True, exclusive=True)
    def _follow(self, runner: JobRunner) -> None:
        runner.follow()

    @on(JobEvent)
    def _job_event(self, message: JobEvent) -> None:
        if message.event.get("event") == STAGE:
            self.query_one("#eval-status", Static).update(f"evaluating: {message.event.get('message', '')}")

    @on(JobEnded)
    def _job_ended(self, message: JobEnded) -> None:
        self.runner = None
        if message.error:
            self.query_one("#eval-status", Static).update(f"eval failed: {message.error}")
            return
        self.show_report()

    def action_back(self) -> None:
        if self.runner is not None:
            self.runner.cancel()
        self.app.pop_screen()
