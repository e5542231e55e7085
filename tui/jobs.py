"""A child job (hearth.events.ChildJob) followed from a worker thread and cancellable from the UI.

The worker thread calls `follow()`, which turns every event line into a `JobEvent` message and the
child's exit into one `JobEnded`. The child's stderr never reaches the terminal (it would scribble
over the app): its last lines are kept for the error message when the child dies without saying why,
and with --verbose they are shown as `log` events.
"""

from __future__ import annotations

import collections
import threading
from typing import Callable

from textual.message import Message

from hearth.events import DONE, ERROR, LOG, ChildJob
from hearth.verbosity import verbose
from tui.messages import JobEnded, JobEvent

STDERR_LINES_KEPT = 12


class JobRunner:
    def __init__(self, name: str, module: str, args: list[str], post: Callable[[Message], object]):
        self.name = name
        self._post = post
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
        self._verbose = verbose()
        self.job = ChildJob(module, args, stderr_sink=self._stderr_line)
        self._cancel = threading.Event()
        self._signalled = False  # the child has been sent its one SIGINT

    def _stderr_line(self, line: str) -> None:
        self._stderr_tail.append(line)
        if self._verbose:
            self._post(JobEvent(self.name, {"event": LOG, "text": line}))

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the child to stop as a Ctrl-C would (training saves a checkpoint first). Safe from any
        thread, before or after the child has started."""
        self._cancel.set()
        if self.job.process is not None:
            self._signalled = True
            self.job.cancel()

    def follow(self) -> None:
        """Run the child to its end, posting its events. For a worker thread."""
        if self.cancelled:
            self._post(JobEnded(self.name, cancelled=True))
            return
        done = error = None
        try:
            for event in self.job.events():
                if self.cancelled and not self._signalled:
                    self._signalled = True  # the cancel came before the child had started
                    self.job.cancel()
                kind = event.get("event")
                if kind == DONE:
                    done = event
                elif kind == ERROR:
                    error = event.get("message") or "the job failed"
                else:
                    self._post(JobEvent(self.name, event))
        except OSError as exc:  # the child could not even start
            error = f"could not start python -m {self.job.module}: {exc}"
        except Exception as exc:  # a bug on our side of the pipe: report it, never take the app down
            self.job.cancel()
            error = f"lost track of python -m {self.job.module}: {type(exc).__name__}: {exc}"
        if done is None and error is None and not self.cancelled:
            said = " | ".join(line.strip() for line in self._stderr_tail if line.strip())
            error = f"{self.job.module} stopped with exit code {self.job.returncode} without finishing" + (
                f": {said}" if said else ""
            )
        stopped = self.cancelled and (done is None or bool(done.get("cancelled")))
        self._post(JobEnded(self.name, done=done, error=None if stopped else error, cancelled=stopped))
