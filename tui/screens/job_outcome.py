"""How a screen says that its child job ended: cancelled, failed, or done (with its checks passed or not).

The train and export screens both run jobs through `tui.jobs.JobRunner` and show the ending the same way in their
progress bar and job log; only the words for a cancel and for a finished job differ, so those are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from textual.screen import Screen

from tui.messages import JobEnded
from tui.widgets.job_log import JobLog
from tui.widgets.train_progress import TrainProgress

# job name -> (what it is called, the sentence its `done` event becomes)
JobWords = Mapping[str, tuple[str, Callable[[dict], str]]]


def say_job_end(screen: Screen, message: JobEnded, jobs: JobWords, cancelled_text: str) -> bool:
    """Shows the job's ending in the screen's TrainProgress and JobLog; True when it finished with a `done` event."""
    progress, log = screen.query_one(TrainProgress), screen.query_one(JobLog)
    if message.cancelled:
        progress.end(cancelled_text, finished=False)
        log.say(cancelled_text, "yellow")
        return False
    if message.error:
        progress.end(f"{jobs[message.job][0]} failed — see the log", finished=False)
        log.say(message.error, "bold red")
        screen.notify(message.error, title=f"{message.job} failed", severity="error", timeout=15)
        return False
    done = message.done or {}
    text = jobs[message.job][1](done)
    passed = done.get("passed", True)  # an export that ran to the end can still fail its checks
    progress.end(text, finished=True)
    log.say(text, "green" if passed else "bold red")
    if not passed:
        screen.notify(text, title=f"{message.job} failed its checks", severity="error", timeout=15)
    return True
