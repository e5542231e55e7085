"""Cancel keeps the last checkpoint and Resume continues from it, on the real training child and the tiny base,
driven from the train screen as a person would: a field edited, Start, step events, Cancel, Resume (Enter on the
button the screen focuses), step events after the checkpoint, ctrl+x (Cancel's key) again. (The fake child's cancel path and the
button states: test_tui_train.py.)"""

from __future__ import annotations

import json

from tui_helpers import wait_for

from tui.app import HearthApp
from tui.screens.train import TrainScreen
from tui.widgets.train_progress import TrainProgress


def _status(screen) -> str:
    return str(screen.query_one("#job-status").render())


def _log(screen) -> str:
    return "\n".join(line.text for line in screen.query_one("#job-log").lines)


async def _cancel_after_a_step(pilot, screen, after: int = 0, key: str | None = None) -> int:
    """Wait for a step event past `after`, press Cancel (or `key`), wait for the child to stop; the step it
    stopped at."""
    bar = screen.query_one("#job-bar")
    await wait_for(pilot, lambda: screen.query_one(TrainProgress).losses and (bar.progress or 0) > after,
                   timeout=180, what=f"a step event after step {after}")
    if key is None:
        await pilot.click("#cancel")
    else:
        await pilot.press(key)
    await wait_for(pilot, lambda: screen.runner is None, timeout=90, what="training to stop")
    stopped = screen.run.latest_checkpoint()
    assert stopped is not None, _log(screen)
    step = int(stopped.name.rpartition("-")[2])
    assert _status(screen) == f"stopped at step {step}; a checkpoint was saved — Resume continues", _log(screen)
    return step


async def test_cancel_keeps_the_checkpoint_and_resume_continues_it(installed_tiny_base):
    app = HearthApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        screen.query_one("#max-steps").value = "400"  # far more than it runs: it is cancelled, twice
        await pilot.click("#start")
        first = await _cancel_after_a_step(pilot, screen)
        run = screen.run
        assert first > 0 and not run.adapter.exists()  # stopped: a checkpoint, no adapter
        resume = screen.query_one("#resume")
        assert resume.display and not resume.disabled and app.focused is resume
        assert "Resume continues it" in _log(screen)  # the run's state line names the checkpoint

        await pilot.press("enter")  # Resume
        await wait_for(pilot, lambda: screen.runner is not None, what="the resumed child")
        second = await _cancel_after_a_step(pilot, screen, after=first, key="ctrl+x")  # the footer's cancel key
        assert second > first
        assert f"training from step {first} to 400" in _log(screen)  # from the checkpoint, not from 0
        steps = [row["step"] for row in map(json.loads, run.metrics.read_text(encoding="utf-8").splitlines())
                 if row["kind"] == "train"]
        assert steps == sorted(set(steps)) and steps[-1] <= second  # one line a step: the resume repeats none
        assert app.focused is screen.query_one("#resume")  # and it can go on again
