"""Training progress as plain lines, for when stdout is not a terminal (a log file, CI, `tee`).

rich draws a live bar only on a terminal; elsewhere it would print nothing until the job ends. These lines say
step, loss, tokens/s and ETA every few steps (about twenty lines per run) and at least every half minute.
"""

from __future__ import annotations

import time

LINES_PER_RUN = 20
MAX_SILENCE_S = 30.0


def fmt_number(value, spec: str) -> str:
    """A number in `spec`, or '-' when the event did not carry it."""
    return format(value, spec) if isinstance(value, (int, float)) else "-"


class StepLines:
    """Decides which `step` events become a line, and writes that line."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._last_step = 0
        self._last_time = clock()

    def line_for(self, event: dict) -> str | None:
        step, total = event.get("step"), event.get("max_steps")
        if not isinstance(step, int):
            return None
        every = max(1, (total or 0) // LINES_PER_RUN)
        now = self._clock()
        due = step - self._last_step >= every or now - self._last_time >= MAX_SILENCE_S or step == total
        if not due or step == self._last_step:
            return None
        self._last_step, self._last_time = step, now
        return (f"step {step}/{total if total else '?'}  loss {fmt_number(event.get('loss'), '.4f')}  "
                f"{fmt_number(event.get('tokens_per_s'), ',.0f')} tok/s  eta {fmt_number(event.get('eta_s'), '.0f')}s")
