"""The JSON-lines protocol between a long job (training, export) and its front ends.

A child process prints one JSON object per line on stdout: `{"event": KIND, "time": ..., ...}`, with KIND one
of `KINDS` below. The CLI draws them with rich, the TUI with Textual widgets; neither needs to know which job
is running. Anything else the child prints goes to stderr (hearth/job_main.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator


# Every kind of event, and the fields it carries beside `event` and `time`. Jobs emit these names and front
# ends match on them (tui/progress.py for the CLI, tui/jobs.py and tui/widgets/ for the TUI).
STAGE, STEP, EVAL, SAVED, WARNING, LOG, DONE, ERROR = "stage", "step", "eval", "saved", "warning", "log", "done", "error"
KINDS = {
    STAGE: "message: what the job is doing now",
    STEP: "step, max_steps, loss, tokens_per_s, eta_s, …: one logged training step",
    EVAL: "step, eval_loss: an evaluation during training",
    SAVED: "path (step): a file or checkpoint written",
    WARNING: "message: something the user should know; the job goes on",
    LOG: "text: a line the child printed that was not an event (front ends show it with --verbose)",
    DONE: "the job's result: the last event of a job that finished",
    ERROR: "message: the last event of a job that failed, one sentence",
}

_event_stream = None  # where emit() writes; None means the current sys.stdout


def route_events_to(stream) -> None:
    """Send events to `stream` (a child keeps the real stdout for events and points sys.stdout at
    stderr, so libraries that print cannot corrupt the event stream)."""
    global _event_stream
    _event_stream = stream


def emit(event: str, **fields) -> None:
    """Print one event line and flush, so the parent sees it at once. Under a distributed launch
    (torchrun / accelerate launch) only rank 0 speaks, so front ends see one job, not N."""
    if os.environ.get("RANK", "0") != "0":
        return
    stream = _event_stream or sys.stdout
    line = json.dumps({"event": event, "time": round(time.time(), 3), **fields}, ensure_ascii=False, default=str)
    stream.write(line + "\n")
    stream.flush()


@dataclass
class ChildJob:
    """A long job running as `python -m <module> ...`, read as a stream of events."""

    module: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    launcher: list[str] = field(default_factory=list)  # interpreter flags before `-m module`, e.g. torch.distributed.run
    stderr_sink: Callable[[str], None] | None = None
    process: subprocess.Popen | None = None

    def events(self) -> Iterator[dict]:
        """Start the child and yield its events until it exits. Non-JSON stdout lines become `log` events."""
        cmd = [sys.executable, *self.launcher, "-m", self.module, *self.args]
        self.process = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if self.stderr_sink else None,
            text=True,
            encoding="utf-8",
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            start_new_session=True,  # a Ctrl-C in the terminal reaches us first; we forward it
        )
        if self.stderr_sink:
            _pump_in_background(self.process.stderr, self.stderr_sink)
        for line in self.process.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                event = {"event": LOG, "text": line}
            if not isinstance(event, dict) or "event" not in event:
                event = {"event": LOG, "text": line}
            yield event
        self.process.wait()

    @property
    def returncode(self) -> int | None:
        return self.process.returncode if self.process else None

    def cancel(self) -> None:
        """Ask the child to stop (it saves what it can), as a user's Ctrl-C would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)


def _pump_in_background(stream, sink: Callable[[str], None]) -> None:
    import threading

    def pump():
        for line in stream:
            sink(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
