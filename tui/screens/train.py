"""Train a run, then merge and export it — the same child processes the CLI runs, drawn with widgets.

The form picks the method (sft, or dpo / kto to refine a trained run from preference data, as `hearth train
--method dpo --from RUN` does), the recipe and the base (one on disk under HEARTH_HOME/models, or a path or hub id
typed in) — for dpo / kto the run started from instead, whose recipe and merged model the new run takes — and the
data, and overrides the recipe's main fields (each shows the recipe's value until typed over); Check data shows
the report `hearth data check` prints (tuner.data_check) before anything starts. A new run is checked the way
`hearth train` checks it (tuner.runs.create_run, from the form's values) before its directory exists; then
`python -m tuner train RUN_DIR` runs as a child whose events fill the progress bar, the loss sparkline and the log.
A crash in a child is shown as its message; Cancel asks the child to stop (training saves a
checkpoint first, and Resume continues from it); quitting the app does the same. Export… opens the export screen
for the run (quantizations, the verification table, the Ollama command).
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select

from hearth.errors import UserError
from hearth.paths import RunPaths, resolve_run
from tui.catalog import RunSummary, run_summaries, summarize_run
from tui.data_report import report_renderables, summary_line
from tui.jobs import JobRunner
from tui.messages import JobEnded, JobEvent, JobStarted
from tui.screens.job_outcome import say_job_end
from tui.screens.export import ExportScreen
from tui.widgets.file_picker import FilePicker
from tui.widgets.job_log import JobLog
from tui.widgets.relabel import relabel
from tui.widgets.train_progress import TrainProgress
from tuner.runs import PREFERENCE_LEARNING_RATE_SCALE, RunRequest, create_run, default_recipe, start_run_recipe

DATA_SUFFIXES = (".jsonl", ".json")  # the files tuner.data reads

# job -> (what it is doing, what to say when it is done). Done events: tuner/__main__.py.
JOBS = {
    "train": ("training", lambda d: f"adapter saved at step {d['step']} (train loss {d['train_loss']:.4f}) — Merge next"),
    "merge": ("merging the adapter into its base", lambda d: f"merged model in {d['merged']} — Export… next"),
}

# method -> what it learns from (the method select's order). dpo and kto refine a trained run (tuner/preference/).
METHODS = {
    "sft": "learns every reply in the data",
    "dpo": "learns to prefer each pair's chosen reply over its rejected one",
    "kto": "learns from replies rated good or bad (a pair gives one of each)",
}
SFT = "sft"
# the form's widgets each kind of method uses: sft picks a recipe and a base, dpo/kto the run they start from
METHOD_WIDGETS = {True: ("#recipe", "#base", "#base-path"), False: ("#start-from",)}
# sft? -> what the empty data line means (a dpo/kto run's recipe is the start run's, whose data is not preferences)
DATA_HINTS = {True: "data (empty: recipe's)", False: "pairs or rated replies"}  # whole beside Resume at 80

# event kind -> what the progress widget does with it (every kind but `step` also goes to the log)
PROGRESS_EVENTS = {
    "step": TrainProgress.step,
    "eval": TrainProgress.evaluated,
    "stage": lambda progress, event: progress.status(event.get("message", "")),
}

RECIPE_BASE = "recipe"  # the base select's value for "the recipe's own base"

# input id -> (its title, the recipe field it overrides, the Input's type). Empty: the recipe's value, shown
# as the placeholder. Values go through the recipe's own loader, so a wrong one is named the way `--set` names it.
RECIPE_FIELDS = {
    "max-steps": ("steps", "train.max_steps", "integer"),
    "epochs": ("epochs", "train.epochs", "text"),
    "learning-rate": ("lr", "train.learning_rate", "text"),
    "lora-r": ("lora r", "lora.r", "integer"),
    "lora-alpha": ("alpha", "lora.alpha", "integer"),
    "lora-dropout": ("dropout", "lora.dropout", "text"),
    "max-length": ("max len", "data.max_length", "integer"),
    "eval-fraction": ("eval frac", "data.eval_fraction", "text"),
}


def recipe_value(recipe, key: str):
    section, name = key.split(".")
    return getattr(getattr(recipe, section), name)


def form_request(recipe: str, data: str, base: str = "", fields: dict[str, str] | None = None,
                 method: str = SFT, start_from: str | None = None) -> RunRequest:
    """The form's fields as a run request, read the way `hearth train` reads the same values; a value the
    recipe refuses, or a packaged base not imported yet, fails here before anything starts. A dpo/kto request
    starts from a run and takes its recipe, as `hearth train --method dpo --from RUN` without --recipe does."""
    from tuner.base_catalog import require_ready
    from tuner.recipe import load_recipe

    try:
        files = shlex.split(data)
    except ValueError as exc:
        raise UserError(f"the data files line cannot be read ({exc}); quote paths that contain spaces") from None
    overrides = [f"{RECIPE_FIELDS[field][1]}={value.strip()}" for field, value in (fields or {}).items()
                 if value.strip()]
    if method != SFT:
        if not start_from:
            raise no_start(method)
        start = resolve_run(start_from)
        load_recipe(str(start.recipe), [*overrides, f"train.method={method}"])  # light, as below
        return RunRequest(data=files, method=method, start_from=str(start.root), overrides=overrides)
    load_recipe(recipe, overrides)  # light (YAML): the same check create_run makes, minus the data and torch
    base = base.strip() or None
    if base is not None:
        require_ready(base)
    return RunRequest(recipe=recipe, data=files, base=base, overrides=overrides)


def no_start(method: str) -> UserError:
    return UserError(f"{method.upper()} refines a trained run: pick the run to start from "
                     "(one with an adapter; with none yet, train one with sft first)")


def check_request(request: RunRequest) -> RunRequest:
    """What Check data reads: for dpo/kto the data measured with the recipe (and so the tokenizer) of the run started
    from, without merging that run first as Start does — its merged model has its base's tokenizer."""
    if request.start_from is None:
        return request
    return replace(request, recipe=str(RunPaths(Path(request.start_from)).recipe), start_from=None)


def start_label(summary: RunSummary) -> str:
    return f"from {summary.id} · {'merged' if summary.has_merged else 'adapter'}"


class TrainScreen(Screen):
    # ctrl+x: a key for Cancel (the form is greyed while a job runs, so no Input takes it for cut then)
    BINDINGS = [Binding("escape", "back", "back"), Binding("ctrl+o", "add_data", "add data"),
                Binding("ctrl+x", "cancel", "cancel")]

    def __init__(self, run: RunPaths | None = None, start_from: RunPaths | None = None):
        """`run`: a run to resume, merge or export; `start_from`: the run dpo/kto preselect (default: `run`)."""
        super().__init__()
        self.run = run
        self.start_from = start_from or run
        self.runner: JobRunner | None = None
        self.checking = False  # a data check is reading the files
        self.data_check = None  # the last tuner.data_check.DataCheck shown

    def compose(self) -> ComposeResult:
        from tuner.recipe import builtin_recipes

        recipes = sorted(builtin_recipes())
        ran = summarize_run(self.run).recipe if self.run is not None else None
        fallback = default_recipe()
        self._recipe_shown = ran if ran in recipes else fallback if fallback in recipes else recipes[0]
        yield Header()
        with Vertical(id="train-form"):
            with Horizontal(classes="row"):
                yield Select([(name, name) for name in METHODS], id="method", allow_blank=False, value=SFT)
                yield Select([(name, name) for name in recipes], id="recipe", allow_blank=False,
                             value=self._recipe_shown)
                starts = self._start_options()
                picked = str(self.start_from.root) if self.start_from is not None else None
                yield Select(starts, id="start-from", type_to_search=False, prompt="pick the run to start from",
                             value=next((root for _, root in starts if root == picked),
                                        starts[0][1] if starts else Select.NULL))
                yield Select(self._base_options(), id="base", allow_blank=False, value=RECIPE_BASE)
                yield Input(id="base-path", placeholder="or a path / hub id")
            with Horizontal(classes="row"):
                yield Input(id="data", placeholder=DATA_HINTS[True])
                yield Button("Add…", id="add-data")
                yield Button("Check data", id="check")
                yield Button("Start", id="start", variant="primary")
                yield Button("Resume", id="resume")
                yield Button("Cancel", id="cancel", variant="error")
            with Horizontal(id="recipe-titles"):  # a row of its own: a title in an 80-column field's border is cut
                for field, (title, _, _) in RECIPE_FIELDS.items():
                    yield Label(title, classes="recipe-title")
            with Horizontal(classes="row", id="recipe-fields"):
                for field, (_, _, kind) in RECIPE_FIELDS.items():
                    yield Input(id=field, type=kind, classes="recipe-field")
        yield TrainProgress(id="progress")
        yield JobLog(id="job-log")
        with Horizontal(id="run-actions"):
            yield Button("Merge", id="merge")
            yield Button("Export…", id="export")
            yield Button("Chat", id="chat", variant="success")
        yield Footer(compact=True)

    def _base_options(self) -> list[tuple[str, str]]:
        from tuner.base_catalog import local_bases

        self._bases = {choice.name: choice for choice in local_bases()}
        return [("recipe's base", RECIPE_BASE)] + [(name, name) for name in self._bases]

    def _start_options(self) -> list[tuple[str, str]]:
        """The runs a dpo/kto run can start from: those with an adapter or a merged model, newest first."""
        self._starts = [(start_label(s), str(s.run.root)) for s in run_summaries() if s.has_adapter or s.has_merged]
        return self._starts

    def _refresh_starts(self) -> None:
        """A run just trained (or trained elsewhere meanwhile) joins the start-from choices; the pick stays."""
        select, shown = self.query_one("#start-from", Select), self._starts
        if self._start_options() == shown:
            return
        relabel(select, self._starts)
        self._show_recipe_values()  # the status line keeps what it says (a job's end)

    def on_mount(self) -> None:
        self.sub_title = "train"
        self.query_one(JobLog).border_title = "log"
        self._show_method()
        self._show_recipe_values()
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

    def _method(self) -> str:
        return self.query_one("#method", Select).value

    def _start_from(self) -> str | None:
        value = self.query_one("#start-from", Select).value
        return None if value is Select.NULL else value

    def _form_recipe(self):
        """The recipe the run would take: the one picked, or for dpo/kto the start run's with the learning rate
        a preference run takes from it (tuner.runs)."""
        from tuner.recipe import load_recipe

        method = self._method()
        if method == SFT:
            return load_recipe(self.query_one("#recipe", Select).value)
        start = self._start_from()
        if start is None:
            raise no_start(method)
        return start_run_recipe(RunPaths(Path(start)), method)

    def _recipe_about(self) -> str:
        try:
            recipe = self._form_recipe()
        except UserError as exc:
            return str(exc)
        method = self._method()
        if method != SFT:
            return (f"{method}: {METHODS[method]}; from {Path(self._start_from()).name} (its recipe {recipe.name}, "
                    f"learning rate ×{PREFERENCE_LEARNING_RATE_SCALE:g}) — add a preference file, Check data, Start")
        about = f": {recipe.description}" if recipe.description else ""
        return f"{recipe.name} (base {recipe.model.base}){about} — Check data, then Start"

    def _show_recipe_values(self) -> None:
        """Each field's placeholder is the recipe's value, so an empty field says what it keeps."""
        try:
            recipe = self._form_recipe()
        except UserError:
            return  # the status line says why
        for field, (_, key, _) in RECIPE_FIELDS.items():
            self.query_one(f"#{field}", Input).placeholder = str(recipe_value(recipe, key))

    def _show_method(self) -> None:
        """sft shows the recipe and base pickers, dpo/kto the run they start from."""
        sft = self._method() == SFT
        for shown, widget_ids in METHOD_WIDGETS.items():
            for widget_id in widget_ids:
                self.query_one(widget_id).display = shown == sft
        self.query_one("#data", Input).placeholder = DATA_HINTS[sft]

    def _form_changed(self) -> None:
        self._show_recipe_values()
        self.query_one(TrainProgress).status(self._recipe_about())

    @on(Select.Changed, "#method")
    def _method_changed(self, event: Select.Changed) -> None:
        if self.runner is None:
            self._show_method()
            self._form_changed()

    @on(Select.Changed, "#start-from")
    def _start_changed(self, event: Select.Changed) -> None:
        if self.runner is None and self._method() != SFT:
            self._form_changed()

    @on(Select.Changed, "#recipe")
    def _recipe_changed(self, event: Select.Changed) -> None:
        if self.runner is None and event.value != self._recipe_shown:
            self._recipe_shown = event.value
            self._form_changed()

    @on(Select.Changed, "#base")
    def _base_changed(self, event: Select.Changed) -> None:
        choice = self._bases.get(event.value)
        if self.runner is None and choice is not None:
            self.query_one(TrainProgress).status(f"base {choice.name}: {choice.about}")

    def _chosen_base(self) -> str:
        typed = self.query_one("#base-path", Input).value.strip()
        picked = self.query_one("#base", Select).value
        return typed or ("" if picked == RECIPE_BASE else picked)

    def _request(self) -> RunRequest:
        fields = {field: self.query_one(f"#{field}", Input).value for field in RECIPE_FIELDS}
        return form_request(self.query_one("#recipe", Select).value, self.query_one("#data", Input).value,
                            self._chosen_base(), fields, method=self._method(), start_from=self._start_from())

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
                # now, not after the queue drains as button.focus() would: the buttons just re-enabled have
                # already moved the focus (a disabled Cancel hands it on), and that must not be what Enter hits
                self.set_focus(button)
                return

    def _refresh_buttons(self) -> None:
        running = self.runner is not None
        summary = summarize_run(self.run) if self.run is not None else None
        enabled = {
            "check": not running and not self.checking,
            "add-data": not running,
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
        # merge/export need a run, and wait while a job runs: hidden then, the log keeps the rows at 80×24
        self.query_one("#run-actions").display = self.run is not None and not running
        for form_id in ("#method", "#recipe", "#start-from", "#base", "#base-path", "#data",
                        *(f"#{field}" for field in RECIPE_FIELDS)):
            self.query_one(form_id).disabled = running

    # -- starting jobs --------------------------------------------------------------------------

    def _begin(self, job: str, module: str, args: list[str]) -> JobRunner:
        self.runner = JobRunner(job, module, args, self.post_message)
        self.refresh_bindings()
        self.query_one(TrainProgress).begin(f"{JOBS[job][0]}…")
        self.query_one(JobLog).say(f"— {JOBS[job][0]} —", "bold")
        self._refresh_buttons()
        return self.runner

    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        try:
            request = self._request()
        except UserError as exc:
            self.notify(str(exc), severity="error")
            return
        runner = self._begin("train", "tuner", [])
        self.query_one(TrainProgress).status("checking the recipe and reading the data…")
        self._new_run_then_follow(runner, request)

    @on(Button.Pressed, "#check")
    def _check(self) -> None:
        try:
            request = self._request()
        except UserError as exc:
            self.notify(str(exc), severity="error")
            return
        self.checking = True
        self._refresh_buttons()
        self.query_one(TrainProgress).status("checking the data (reading every file, tokenizing with the base)…")
        self._check_data(check_request(request))

    @work(thread=True, exclusive=True, group="check")
    def _check_data(self, request: RunRequest) -> None:
        from tuner.base_catalog import require_ready
        from tuner.data_check import check_data
        from tuner.runs import checked_recipe

        try:
            recipe = checked_recipe(request)
            require_ready(recipe.model.base)  # the recipe's own base may be a packaged one not imported yet
            result = check_data(recipe)
        except UserError as exc:
            result = str(exc)
        except Exception as exc:  # a bug or a broken install: say so, keep the app
            result = f"the data check failed: {type(exc).__name__}: {exc}"
        self.app.call_from_thread(self._show_check, result)

    def _show_check(self, result) -> None:
        """A DataCheck into the log (the whole report) and the status line (its summary); an error as a message."""
        self.checking = False
        self._refresh_buttons()
        progress, log = self.query_one(TrainProgress), self.query_one(JobLog)
        if isinstance(result, str):
            progress.status("the data check failed — see the message")
            log.say(result, "bold red")
            self.notify(result, title="data check failed", severity="error", timeout=15)
            return
        self.data_check = result
        log.say("— data check —", "bold")
        for renderable in report_renderables(result.report, result.tokenizer, result.preference):
            log.write(renderable)
        progress.status(summary_line(result.report))
        self.query_one("#start", Button).focus()  # checked: Enter starts (the button had lost the focus while greyed)
        if result.report.rows_rejected:
            self.notify(f"{result.report.rows_rejected} rows rejected (file:line and why in the log)",
                        severity="warning")

    @on(Button.Pressed, "#add-data")
    def action_add_data(self) -> None:
        """Pick a data file (Enter chooses, Esc cancels); it joins the data line, quoted as the line is read."""
        if self.runner is None:
            self.app.push_screen(FilePicker("add a data file", DATA_SUFFIXES), self._add_data_file)

    def _add_data_file(self, path: Path | None) -> None:
        if path is None:
            return
        field = self.query_one("#data", Input)
        field.value = " ".join(part for part in (field.value.strip(), shlex.quote(str(path))) if part)
        field.focus()

    @on(Button.Pressed, "#resume")
    def _resume(self) -> None:
        self._follow(self._begin("train", "tuner", ["train", str(self.run.root), "--resume"]))

    @on(Button.Pressed, "#merge")
    def _merge(self) -> None:
        self._follow(self._begin("merge", "tuner", ["merge", str(self.run.root)]))

    @on(Button.Pressed, "#export")
    def _export(self) -> None:
        """The export screen for this run: the quantizations, the verification table, the Ollama command."""
        self.app.push_screen(ExportScreen(self.run))

    def on_screen_resume(self) -> None:
        if self.runner is None:  # back from the export screen (or chat): what the run has now
            self._refresh_starts()
            self._refresh_buttons()

    @on(Button.Pressed, "#chat")
    def _chat(self) -> None:
        self.app.open_chat(model=summarize_run(self.run).models[0])

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Keys that cannot do anything now are greyed in the footer (None), not hidden."""
        able = {"cancel": self.runner is not None, "add_data": self.runner is None}
        return None if able.get(action) is False else True

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
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
        shown = PROGRESS_EVENTS.get(event.get("event"))
        if shown is not None:
            shown(self.query_one(TrainProgress), event)
        if event.get("event") != "step":  # steps are the bar and the curve; a log line each would flood it
            self.query_one(JobLog).show_event(event)

    def on_job_ended(self, message: JobEnded) -> None:
        self.runner = None
        self.refresh_bindings()
        step = (message.done or {}).get("step")
        stopped = f"stopped at step {step}; a checkpoint was saved — Resume continues" if step is not None else "stopped"
        say_job_end(self, message, JOBS, stopped)
        self._refresh_starts()
        self._refresh_buttons()
        self._focus_next_step()
        if self.run is not None:
            self.query_one(JobLog).say(self._run_state(), "dim")

    # -- keys -----------------------------------------------------------------------------------

    def action_back(self) -> None:
        if self.runner is not None:  # an Esc is too easy to press to stop an hour of training with it
            self.notify("a job is running; Cancel stops it (training saves a checkpoint first)", severity="warning")
        else:
            self.app.pop_screen()

    def on_unmount(self) -> None:
        if self.runner is not None:
            self.runner.cancel()  # leaving (or quitting) stops the child the way Cancel does
