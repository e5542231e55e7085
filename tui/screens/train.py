"""Train a run, then merge and export it — the same child processes the CLI runs, drawn with widgets.

A new run is checked the way `hearth train` checks it (tuner.runs.create_run, from the form's values)
before its directory exists; then `python -m tuner
train RUN_DIR` runs as a child whose events fill the progress bar, the loss sparkline and the log.
A crash in a child is shown as its message; Cancel asks the child to stop (training saves a
checkpoint first, and Resume continues from it); quitting the app does the same.
"""

from __future__ import annotations

import shlex

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Select

from hearth.errors import UserError
from hearth.paths import RunPaths
from tui.catalog import summarize_run
from tui.jobs import JobRunner
from tui.messages import JobEnded, JobEvent, JobStarted
from tui.widgets.job_log import JobLog
from tui.widgets.train_progress import TrainProgress
from tuner.runs import RunRequest, create_run

DEFAULT_RECIPE = "tiny-offline"
DEFAULT_QUANT = "q8_0"

# job -> (what it is doing, what to say when it is done). Done events: tuner/__main__.py, exporter/__main__.py.
JOBS = {
    "train": ("training", lambda d: f"adapter saved at step {d['step']} (train loss {d['train_loss']:.4f}) — Merge next"),
    "merge": ("merging the adapter into its base", lambda d: f"merged model in {d['merged']} — Export next"),
    "export": ("exporting to GGUF and checking it against the merged model",
               lambda d: "export passed — Chat with it" if d.get("passed") else "export FAILED its checks (see the log)"),
}


def form_request(recipe: str, data: str, max_steps: str) -> RunRequest:
    """The form's fields as a run request, read the way `hearth train` reads the same values."""
    try:
        files = shlex.split(data)
    except ValueError as exc:
        raise UserError(f"the data files line cannot be read ({exc}); quote paths that contain spaces") from None
    steps = max_steps.strip()
    if steps and not steps.lstrip("-").isdigit():
        raise UserError(f"max steps must be a whole number, not '{steps}'")
    return RunRequest(recipe=recipe, data=files, max_steps=int(steps) if steps else None)


class TrainScreen(Screen):
    BINDINGS = [Binding("escape", "back", "back")]

    def __init__(self, run: RunPaths | None = None):
        super().__init__()
        self.run = run
        self.runner: JobRunner | None = None

    def compose(self) -> ComposeResult:
        from exporter.quantize import QUANT_TYPES
        from tuner.recipe import builtin_recipes

        recipes = sorted(builtin_recipes())
        ran = summarize_run(self.run).recipe if self.run is not None else None
        self._recipe_shown = ran if ran in recipes else DEFAULT_RECIPE if DEFAULT_RECIPE in recipes else recipes[0]
        yield Header()
        with Vertical(id="train-form"):
            with Horizontal(classes="row"):
                yield Select([(name, name) for name in recipes], id="recipe", allow_blank=False,
                             value=self._recipe_shown)
                yield Input(id="max-steps", type="integer", placeholder="max steps (recipe's)")
                yield Button("Start", id="start", variant="primary")
                yield Button("Resume", id="resume")
                yield Button("Cancel", id="cancel", variant="error")
            yield Input(id="data", placeholder="data files, space-separated (empty: the recipe's own — 林栀's dialogues)")
        yield TrainProgress(id="progress")
        yield JobLog(id="job-log")
        with Horizontal(id="run-actions"):
            yield Button("Merge", id="merge")
            yield Select([(name, name) for name in QUANT_TYPES], id="quant", allow_blank=False, value=DEFAULT_QUANT)
            yield Button("Export", id="export")
            yield Button("Chat", id="chat", variant="success")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "train"
        self.query_one(JobLog).border_title = "log"
        self.query_one(TrainProgress).status(self._run_state() if self.run is not None else self._recipe_about())
        self._refresh_buttons()
        if self.run is None:
            self.query_one("#recipe", Select).focus()
        else:
            self._focus_next_step()

    # -- state ----------------------------------------------------------------------------------

    def _run_state(self) -> str:
        s = summarize_run(self.run)
        checkpoint = self.run.latest_checkpoint()
        made = [label for label, present in (
            ("an adapter", s.has_adapter),
            (f"{checkpoint.name if checkpoint else ''} (Resume continues it)", checkpoint is not None and not s.has_adapter),
            ("a merged model", s.has_merged),
            (", ".join(m.name for m in s.models), bool(s.models)),
        ) if present]
        return (f"run {s.id} ({s.recipe}): {s.steps if s.steps is not None else '?'} steps logged; "
                + (f"has {', '.join(made)}" if made else "nothing saved yet"))

    def _recipe_about(self) -> str:
        from tuner.recipe import load_recipe

        name = self.query_one("#recipe", Select).value
        try:
            about = load_recipe(name).description
        except UserError as exc:
            about = str(exc)
        return f"{name}: {about} — Start trains a new run" if about else f"{name} — Start trains a new run"

    @on(Select.Changed, "#recipe")
    def _recipe_changed(self, event: Select.Changed) -> None:
        if self.runner is None and event.value != self._recipe_shown:
            self._recipe_shown = event.value
            self.query_one(TrainProgress).status(self._recipe_about())

    def _focus_next_step(self) -> None:
        """Put the focus on what the run needs next, so Enter carries on (resume, merge, export, chat)."""
        if self.run is None:
            return
        s = summarize_run(self.run)
        steps = (("#resume", not s.has_adapter), ("#merge", not s.has_merged), ("#export", not s.models),
                 ("#chat", True))
        for button_id, due in steps:
            button = self.query_one(button_id, Button)
            if due and not button.disabled:
                button.focus()
                return

    def _refresh_buttons(self) -> None:
        running = self.runner is not None
        summary = summarize_run(self.run) if self.run is not None else None
        enabled = {
            "start": not running,
            "resume": not running and summary is not None and not summary.has_adapter
            and self.run.latest_checkpoint() is not None,
            "cancel": running,
            "merge": not running and summary is not None and summary.has_adapter,
            "export": not running and summary is not None and summary.has_merged,
            "chat": not running and summary is not None and bool(summary.models),
        }
        for button_id, on_ in enabled.items():
            self.query_one(f"#{button_id}", Button).disabled = not on_
        self.query_one("#resume", Button).display = enabled["resume"]
        self.query_one("#run-actions").display = self.run is not None  # merge/export need a run
        for form_id in ("#recipe", "#max-steps", "#data"):
            self.query_one(form_id).disabled = running

    # -- starting jobs --------------------------------------------------------------------------

    def _begin(self, job: str, module: str, args: list[str]) -> JobRunner:
        self.runner = JobRunner(job, module, args, self.post_message)
        self.query_one(TrainProgress).begin(f"{JOBS[job][0]}…")
        self.query_one(JobLog).say(f"— {JOBS[job][0]} —", "bold")
        self._refresh_buttons()
        return self.runner

    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        try:
            request = form_request(self.query_one("#recipe", Select).value, self.query_one("#data", Input).value,
                                   self.query_one("#max-steps", Input).value)
        except UserError as exc:
            self.notify(str(exc), severity="error")
            return
        runner = self._begin("train", "tuner", [])
        self.query_one(TrainProgress).status("checking the recipe and reading the data…")
        self._new_run_then_follow(runner, request)

    @on(Button.Pressed, "#resume")
    def _resume(self) -> None:
        self._follow(self._begin("train", "tuner", ["train", str(self.run.root), "--resume"]))

    @on(Button.Pressed, "#merge")
    def _merge(self) -> None:
        self._follow(self._begin("merge", "tuner", ["merge", str(self.run.root)]))

    @on(Button.Pressed, "#export")
    def _export(self) -> None:
        quant = self.query_one("#quant", Select).value
        from companion.serving import serving_json

        serving = serving_json(self.run.root, settings=self.app.engine_settings)  # the app's chat settings
        self._follow(self._begin("export", "exporter", ["export", str(self.run.root), "--quant", quant,
                                                        "--serving", serving]))

    @on(Button.Pressed, "#chat")
    def _chat(self) -> None:
        self.app.open_chat(model=summarize_run(self.run).models[0])

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        if self.runner is not None:
            self.runner.cancel()
            self.query_one(TrainProgress).status("stopping… (training saves a checkpoint first)")

    @work(thread=True, exclusive=True, group="job")
    def _new_run_then_follow(self, runner: JobRunner, request: RunRequest) -> None:
        """Check the recipe and data (slow: imports torch, reads every file), make the run, train it."""
        try:
            run = None if runner.cancelled else create_run(request)
        except UserError as exc:
            self.post_message(JobEnded(runner.name, error=str(exc)))
            return
        except Exception as exc:  # a bug or a broken install: say so, keep the app
            self.post_message(JobEnded(runner.name, error=f"could not start training: {type(exc).__name__}: {exc}"))
            return
        if run is not None:
            runner.job.args = ["train", str(run.root)]
            self.post_message(JobStarted(runner.name, run.root))
        runner.follow()

    @work(thread=True, exclusive=True, group="job")
    def _follow(self, runner: JobRunner) -> None:
        runner.follow()

    # -- what the child says --------------------------------------------------------------------

    def on_job_started(self, message: JobStarted) -> None:
        self.run = RunPaths(message.run_root)
        self.query_one(JobLog).say(f"run {self.run.root.name} in {self.run.root}", "dim")
        self.query_one(TrainProgress).status(f"{JOBS[message.job][0]} {self.run.root.name}…")

    def on_job_event(self, message: JobEvent) -> None:
        event = message.event
        progress = self.query_one(TrainProgress)
        if event.get("event") == "step":
            progress.step(event)
            return
        if event.get("event") == "stage":
            progress.status(event.get("message", ""))
        self.query_one(JobLog).show_event(event)

    def on_job_ended(self, message: JobEnded) -> None:
        self.runner = None
        progress, log = self.query_one(TrainProgress), self.query_one(JobLog)
        if message.cancelled:
            step = (message.done or {}).get("step")
            text = f"stopped at step {step}; a checkpoint was saved — Resume continues" if step is not None else "stopped"
            progress.end(text, finished=False)
            log.say(text, "yellow")
        elif message.error:
            progress.end(f"{JOBS[message.job][0]} failed", finished=False)
            log.say(message.error, "bold red")
            self.notify(message.error, title=f"{message.job} failed", severity="error", timeout=15)
        else:
            text = JOBS[message.job][1](message.done)
            progress.end(text, finished=True)
            log.say(text, "green")
        self._refresh_buttons()
        self._focus_next_step()
        if self.run is not None:
            log.say(self._run_state(), "dim")

    # -- keys -----------------------------------------------------------------------------------

    def action_back(self) -> None:
        if self.runner is not None:  # an Esc is too easy to press to stop an hour of training with it
            self.notify("a job is running; Cancel stops it (training saves a checkpoint first)", severity="warning")
        else:
            self.app.pop_screen()

    def on_unmount(self) -> None:
        if self.runner is not None:
            self.runner.cancel()  # leaving (or quitting) stops the child the way Cancel does
