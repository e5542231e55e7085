"""Training progress off a terminal: plain lines every few steps, at least every half minute, and the last step."""

from __future__ import annotations

import io
import sys

from rich.console import Console

from tui.step_lines import StepLines


def _step(n, total=100):
    return {"event": "step", "step": n, "max_steps": total, "loss": 2.0 - n / 100, "tokens_per_s": 150.0, "eta_s": 100 - n}


def test_a_line_every_twentieth_of_the_run_and_the_last_step():
    lines = StepLines(clock=lambda: 0.0)
    printed = [n for n in range(1, 101) if lines.line_for(_step(n))]
    assert printed == list(range(5, 101, 5))
    assert lines.line_for(_step(100)) is None  # never the same step twice
    assert "step 100/100  loss 1.0000  150 tok/s  eta 0s" == StepLines(clock=lambda: 0.0).line_for(_step(100))


def test_a_slow_run_still_says_something_every_half_minute():
    now = [0.0]
    lines = StepLines(clock=lambda: now[0])
    said = []
    for n in range(1, 4):
        now[0] += 31.0  # each step takes longer than the silence allowed
        said.append(lines.line_for(_step(n, total=1000)))
    assert all(said)


def test_run_job_prints_step_lines_when_stdout_is_not_a_terminal(tmp_path, monkeypatch):
    """The real child-process path: a module that emits step events, rendered to a non-terminal console."""
    from tui import progress

    (tmp_path / "fake_trainer.py").write_text(
        "from hearth.events import emit\n"
        "for n in range(1, 41):\n"
        "    emit('step', step=n, max_steps=40, loss=1.0, tokens_per_s=99.0, eta_s=40 - n)\n"
        "emit('done')\n", encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{':'.join(sys.path)}")
    out = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=out, force_terminal=False, width=100))
    done = progress.run_job("fake_trainer", [], "training")
    assert done["event"] == "done"
    lines = [line.strip() for line in out.getvalue().splitlines() if line.strip().startswith("step ")]
    assert lines[0] == "step 2/40  loss 1.0000  99 tok/s  eta 38s" and lines[-1].startswith("step 40/40")
    assert len(lines) == 20
