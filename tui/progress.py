"""Draw a long job's JSON-lines events (hearth.events) with rich, for the CLI.

Training shows a progress bar with loss, tokens/s and ETA; export shows one line per stage.
The child's `error` event becomes a UserError, so the CLI exits 2 with that one sentence.
"""

from __future__ import annotations

from collections import deque

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

from hearth.errors import UserError
from hearth.events import DONE, ERROR, LOG, STAGE, STEP, ChildJob
from hearth.verbosity import verbose as verbose_now
from tui.event_lines import event_line
from tui.step_lines import StepLines, fmt_number as _fmt

console = Console(highlight=False)
STDERR_LINES_KEPT = 200


def run_job(module: str, args: list[str], title: str, launcher: list[str] | None = None) -> dict:
    """Run `python [launcher] -m module args`, draw its events, and return the final `done` event."""
    verbose = verbose_now()
    stderr_tail: deque[str] = deque(maxlen=STDERR_LINES_KEPT)  # quoted if the child dies without a word
    job = ChildJob(module, args, launcher=list(launcher or []), stderr_sink=(lambda line: console.print(f"[dim]{line}[/]")) if verbose else stderr_tail.append)
    done: dict | None = None
    error: dict | None = None
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
    )
    plain = None if console.is_terminal else StepLines()  # no live bar off a terminal: say it in lines
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(title, total=None, info="starting")
        try:
            for event in job.events():
                kind = event.get("event")
                if kind == STEP:
                    info = (
                        f"loss {_fmt(event.get('loss'), '.4f')}  "
                        f"{_fmt(event.get('tokens_per_s'), ',.0f')} tok/s  "
                        f"eta {_fmt(event.get('eta_s'), '.0f')}s"
                    )
                    progress.update(task, total=event.get("max_steps"), completed=event.get("step"), info=info)
                    line = plain.line_for(event) if plain else None
                    if line:
                        progress.console.print(f"  {line}")
                elif kind == DONE:
                    done = event
                    progress.update(task, info="done", total=progress.tasks[0].total or 1,
                                    completed=progress.tasks[0].total or 1)
                elif kind == ERROR:
                    error = event
                else:
                    if kind == STAGE:
                        progress.update(task, info=event.get("message", ""))
                    line = event_line(event) if kind != LOG or verbose else None
                    if line is not None:
                        progress.console.print(Text.assemble("  ", line))
        except KeyboardInterrupt:
            job.cancel()  # the child saves a checkpoint and exits on SIGINT
            if job.process:
                job.process.wait()
            raise
    if error:
        raise UserError(error.get("message", "the job failed"))
    if done is None:
        tail = "\n".join(list(stderr_tail)[-15:])
        raise RuntimeError(f"{module} exited with code {job.returncode} without finishing:\n{tail}")
    return done
