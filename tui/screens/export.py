"""Export a run to GGUF and see how faithful each file is — the same child process `hearth export` runs.

Pick the run (the one highlighted on the home screen comes preselected), the quantizations (the exporter's own
list, exporter.quantize.QUANT_TYPES) and, where the run's adapter allows it (exporter.lora.lora_refusal), the LoRA
GGUF too. Start runs `python -m exporter export …` as a child (a run with an adapter but no merged model is merged
first by `python -m tuner merge`, as the CLI merges first); its stage lines fill the status and the log. When it
is done the report is drawn from its own data: fidelity per file (pass/fail) apart from the trained model's
behaviour (warnings with advice), then the files written, the Modelfile and the `ollama` command. Cancel sends
the child a Ctrl-C; the exporter builds everything beside gguf/ and swaps it in only when complete, so a
cancelled export leaves the previous one as it was.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, ContentSwitcher, Footer, Header, Select, SelectionList, Static

from exporter.export_report import ExportReport
from hearth.paths import RunPaths
from tui.catalog import RunSummary, run_summaries, summarize_run
from tui.jobs import JobRunner
from tui.messages import JobEnded, JobEvent
from tui.screens.job_outcome import say_job_end
from tui.widgets.behaviour_notes import BehaviourNotes
from tui.widgets.export_outputs import ExportOutputs
from tui.widgets.job_log import JobLog
from tui.widgets.train_progress import TrainProgress
from tui.widgets.verify_table import CheckDetails, VerifyTable

DEFAULT_QUANTS = ("q8_0",)  # what `hearth export` writes without --quant

def _exported(done: dict) -> str:
    if not done.get("passed"):
        return "export FAILED a fidelity check — see the table"
    warned = len(done.get("warnings") or [])
    return "export passed" + (f", with {warned} behaviour warning(s) about the trained model — see below"
                              if warned else "")


# job -> (what it is doing, what to say when it is done). Done events: tuner/__main__.py, exporter/__main__.py.
JOBS = {
    "merge": ("merging the adapter into its base first", lambda done: "merged; exporting next"),
    "export": ("exporting to GGUF and checking every file against the merged model", _exported),
}

# A run's state -> (its label in the run picker, what Start does with it); the first that applies.
RUN_STATES = (
    (lambda s: s.has_merged, "merged", "merged model ✓"),
    (lambda s: s.has_adapter, "adapter", "adapter only: Start merges it first"),
    (lambda s: True, "not trained", "not trained to the end yet: nothing to export (train or resume it first)"),
)


def run_state(summary: RunSummary) -> tuple[str, str]:
    return next((label, sentence) for applies, label, sentence in RUN_STATES if applies(summary))


class ExportScreen(Screen):
    BINDINGS = [
        Binding("escape", "back", "back"),
        Binding("s", "start", "export"),
        Binding("x", "cancel", "cancel"),
        Binding("l", "toggle_log", "log"),
        Binding("y", "copy_command", "copy ollama"),
        Binding("c", "chat", "chat"),
    ]

    def __init__(self, run: RunPaths | None = None):
        super().__init__()
        self.run = run
        self.runner: JobRunner | None = None
        self.report: ExportReport | None = None  # the report shown: the last export's, or the one just done
        self.lora_problem: str | None = None

    def compose(self) -> ComposeResult:
        from exporter.quantize import QUANT_TYPES

        summaries = run_summaries()
        if self.run is not None and all(s.run.root != self.run.root for s in summaries):
            summaries.insert(0, summarize_run(self.run))
        self.run = self.run or (summaries[0].run if summaries else None)
        yield Header()
        with Horizontal(id="export-setup"):
            yield SelectionList(*((name, name, name in DEFAULT_QUANTS) for name in QUANT_TYPES), id="quants")
            with Vertical(id="export-choices"):
                yield Select([(f"{s.id} · {run_state(s)[0]}", str(s.run.root)) for s in summaries], id="export-run",
                             allow_blank=not summaries, type_to_search=False,
                             value=str(self.run.root) if self.run is not None else Select.NULL)
                with Horizontal(id="export-buttons"):
                    yield Checkbox("LoRA GGUF too", id="lora")
                    yield Button("Start", id="start", variant="primary")
                    yield Button("Cancel", id="cancel", variant="error")
                yield Static("", id="export-run-state", markup=False)
        yield TrainProgress(id="export-progress")
        with ContentSwitcher(initial="export-result", id="export-body"):
            yield JobLog(id="export-log")
            with VerticalScroll(id="export-result"):
                yield Static("not exported yet — pick the quantizations, then Start (s)", id="export-hint")
                yield VerifyTable(id="verify-table")
                yield BehaviourNotes(id="behaviour")
                yield ExportOutputs(id="export-outputs")
                yield CheckDetails(id="check-details", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = "export"
        self.query_one("#quants", SelectionList).border_title = "quantizations"
        self.query_one(JobLog).border_title = "log"
        self._show_run()
        self._refresh_controls()
        self.query_one("#start" if self._exportable() else "#export-run").focus()

    # -- the run picked ---------------------------------------------------------------------------

    def _summary(self) -> RunSummary | None:
        return summarize_run(self.run) if self.run is not None else None

    def _exportable(self) -> bool:
        summary = self._summary()
        return summary is not None and (summary.has_merged or summary.has_adapter)

    @on(Select.Changed, "#export-run")
    def _run_changed(self, event: Select.Changed) -> None:
        picked = None if event.value is Select.NULL else RunPaths(event.value)
        if self.runner is None and picked is not None and (self.run is None or picked.root != self.run.root):
            self.run = picked
            self._show_run()
            self._refresh_controls()

    def _show_run(self, report: ExportReport | None = None) -> None:
        """The run's state, whether its adapter can become a GGUF LoRA, and `report` (else its last export's)."""
        from exporter.export import read_report
        from exporter.lora import lora_refusal

        summary = self._summary()
        state = self.query_one("#export-run-state", Static)
        if summary is None:
            state.update("no runs yet — train one first (t on the home screen)")
            self._show_report(None)
            return
        said = run_state(summary)[1]
        self.lora_problem = "the run has no adapter" if not summary.has_adapter else lora_refusal(summary.run.root)
        lora = self.query_one("#lora", Checkbox)
        lora.tooltip = self.lora_problem or "also write the adapter as a GGUF LoRA, checked on the base model's GGUF"
        if self.lora_problem:
            lora.value = False
        report = report or read_report(summary.run)
        when = report.created[:16].replace("T", " ") if report else ""
        last = (f" · last export {'passed' if report.passed else 'FAILED'} {when}"
                if report else " · not exported yet")
        lora_note = f"\nno LoRA GGUF: {self.lora_problem}" if self.lora_problem and summary.has_adapter else ""
        state.update(said + last + lora_note)
        self._show_report(report)

    def _show_report(self, report: ExportReport | None) -> None:
        self.report = report
        gguf_dir = self.run.gguf if self.run is not None else None
        table = self.query_one(VerifyTable)
        table.show_report(report, gguf_dir)
        self.query_one(CheckDetails).show_row(table.row_at(0), report)
        self.query_one(ExportOutputs).show_outputs(report, gguf_dir)
        notes = self.query_one(BehaviourNotes)
        notes.show_warnings(report.warnings if report else None, self.run.root.name if self.run else "RUN")
        self.query_one("#export-result").set_class(report is None, "-empty")
        self.refresh_bindings()

    def _refresh_controls(self) -> None:
        running = self.runner is not None
        self.query_one("#start", Button).disabled = running or not self._exportable()
        self.query_one("#cancel", Button).disabled = not running
        for widget_id in ("#quants", "#export-run"):
            self.query_one(widget_id).disabled = running
        self.query_one("#lora", Checkbox).disabled = running or self.lora_problem is not None
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Keys that cannot do anything now are greyed in the footer (None), not hidden."""
        running = self.runner is not None
        able = {
            "start": not running and self._exportable(),
            "cancel": running,
            "copy_command": bool(self.report and self.report.ollama),
            "chat": not running and self.run is not None and bool(summarize_run(self.run).models),
        }
        return None if able.get(action) is False else True

    # -- starting and following the child ----------------------------------------------------------

    def action_start(self) -> None:
        if self.runner is not None or not self._exportable():
            return
        from exporter.quantize import QUANT_TYPES

        picked = set(self.query_one("#quants", SelectionList).selected)
        quants = [name for name in QUANT_TYPES if name in picked]  # in the list's order: the Modelfile serves the first
        if not quants:
            self.notify("pick at least one quantization (f16 alone is fine)", severity="warning")
            return
        self._quants, self._lora = quants, self.query_one("#lora", Checkbox).value
        self.query_one(JobLog).clear()
        self.query_one("#export-body", ContentSwitcher).current = "export-log"
        if self._summary().has_merged:
            self._begin_export()
        else:
            self._begin("merge", "tuner", ["merge", str(self.run.root)])

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start()

    def _begin_export(self) -> None:
        from companion.serving import serving_json
        from exporter.export import export_args

        serving = serving_json(self.run.root, settings=self.app.engine_settings)  # the app's chat settings
        self._begin("export", "exporter", export_args(self.run.root, self._quants, lora=self._lora, serving=serving))

    def _begin(self, job: str, module: str, args: list[str]) -> None:
        self.runner = JobRunner(job, module, args, self.post_message)
        self.query_one(TrainProgress).begin(f"{JOBS[job][0]}…")
        self.query_one(JobLog).say(f"— {JOBS[job][0]} —", "bold")
        self._refresh_controls()
        self._follow(self.runner)

    @work(thread=True, exclusive=True, group="job")
    def _follow(self, runner: JobRunner) -> None:
        runner.follow()

    def on_job_event(self, message: JobEvent) -> None:
        event = message.event
        if event.get("event") == "stage":
            self.query_one(TrainProgress).status(event.get("message", ""))
        self.query_one(JobLog).show_event(event)

    def on_job_ended(self, message: JobEnded) -> None:
        self.runner = None
        cancelled = "cancelled — nothing half-written was left; the previous export (if any) is as it was"
        if say_job_end(self, message, JOBS, cancelled):
            if message.job == "merge":
                self._begin_export()
                return
            self._show_run(ExportReport.from_json(message.done))
            self.query_one("#export-body", ContentSwitcher).current = "export-result"
            self.query_one("#export-result").focus()  # arrows scroll the report; Tab reaches the table's rows
        self._refresh_controls()

    @on(VerifyTable.RowHighlighted, "#verify-table")
    def _row_highlighted(self, event: VerifyTable.RowHighlighted) -> None:
        self.query_one(CheckDetails).show_row(self.query_one(VerifyTable).row_at(event.cursor_row), self.report)

    # -- keys -------------------------------------------------------------------------------------

    def action_cancel(self) -> None:
        if self.runner is not None:
            self.runner.cancel()
            self.query_one(TrainProgress).status("stopping… (a llama.cpp call under way finishes first)")

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_toggle_log(self) -> None:
        body = self.query_one("#export-body", ContentSwitcher)
        body.current = "export-result" if body.current == "export-log" else "export-log"

    def action_copy_command(self) -> None:
        if self.report and self.report.ollama:
            self.app.copy_to_clipboard(self.report.ollama)
            self.notify(f"copied: {self.report.ollama}")

    def action_chat(self) -> None:
        models = summarize_run(self.run).models if self.run is not None and self.runner is None else ()
        if models:
            self.app.open_chat(model=models[0])

    def action_back(self) -> None:
        if self.runner is not None:  # an Esc is too easy to press to throw away a long export with it
            self.notify("an export is running; Cancel (x) stops it", severity="warning")
        else:
            self.app.pop_screen()

    def on_unmount(self) -> None:
        if self.runner is not None:
            self.runner.cancel()  # leaving (or quitting) stops the child the way Cancel does
