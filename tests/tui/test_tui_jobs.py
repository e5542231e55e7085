"""JobRunner: a child's events become messages, a cancel reaches the child as Ctrl-C would, and a
child that dies silently is reported with its last words."""

from __future__ import annotations

import threading

from tui.jobs import JobRunner
from tui.messages import JobEnded, JobEvent


def _follow_in_thread(runner: JobRunner) -> threading.Thread:
    thread = threading.Thread(target=runner.follow)
    thread.start()
    return thread


def test_cancel_reaches_the_running_child(fake_trainer):
    posted = []
    started = threading.Event()

    def post(message):
        posted.append(message)
        if isinstance(message, JobEvent) and message.event.get("event") == "step":
            started.set()

    runner = JobRunner("train", fake_trainer, [], post)
    thread = _follow_in_thread(runner)
    assert started.wait(30)
    runner.cancel()
    thread.join(30)
    events = [m.event for m in posted if isinstance(m, JobEvent)]
    assert events[0]["step"] == 3
    assert {"event": "log", "text": "a library printing on stdout"} in events
    ended = posted[-1]
    assert isinstance(ended, JobEnded) and ended.cancelled and ended.error is None and ended.done["step"] == 3


def test_cancel_before_the_child_starts_starts_nothing(fake_trainer):
    posted = []
    runner = JobRunner("train", fake_trainer, [], posted.append)
    runner.cancel()
    runner.follow()
    assert runner.job.process is None
    assert len(posted) == 1 and posted[0].cancelled


def test_a_silent_crash_is_reported_with_the_childs_last_words(fake_trainer):
    posted = []
    runner = JobRunner("train", fake_trainer, ["crash"], posted.append)
    runner.follow()
    ended = posted[-1]
    assert isinstance(ended, JobEnded) and not ended.cancelled
    assert "exit code 1 without finishing" in ended.error and "the model exploded" in ended.error
