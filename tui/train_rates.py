"""What the train screen says beside the loss curve: tokens/s, the time left and the memory training holds,
worked out from the child's `step` events alone (their `time` field, not a clock here), so it is pure and testable.

The ETA is the steps still to go over the recent step rate: the last few steps' pace, so a slow first step
(compilation, warm-up) stops counting once it is out of the window. The clock is the child's `train_s` (its
training seconds, evaluation and saves left out: tuner/progress_events.py), else the event's `time`. An event
without times falls back to the child's own `eta_s` (its pace since the previous log).
"""

from __future__ import annotations

from collections import deque

from tui.step_lines import fmt_number

RECENT_STEPS = 8  # step events the rate is taken over

# event field -> what the number is: the GPU's peak allocation under CUDA, else the child's resident set
# (tuner/progress_events.py sends one of them).
MEMORY_FIELDS = (("gpu_peak_bytes", "gpu peak"), ("rss_bytes", "rss"))

# (at least this many seconds, the unit it is counted in, the smaller unit shown after it, that unit's size)
DURATION_UNITS = ((86400, "d", "h", 3600), (3600, "h", "m", 60), (60, "m", "s", 1))

BYTE_UNITS = ((2 ** 30, "GiB", ".2f"), (2 ** 20, "MiB", ".0f"), (2 ** 10, "KiB", ".0f"), (1, "B", ".0f"))


def duration(seconds) -> str:
    """A time left as a person reads it: 45s, 3m 20s, 1h 05m, 2d 3h; '-' when there is none."""
    if not isinstance(seconds, (int, float)) or seconds != seconds or seconds < 0:
        return "-"
    whole = round(seconds)
    for size, unit, small, small_size in DURATION_UNITS:
        if whole >= size:
            big, rest = divmod(whole, size)
            width = 1 if small == "h" else 2
            return f"{big}{unit} {rest // small_size:0{width}d}{small}"
    return f"{whole}s"


def byte_size(count) -> str:
    """Bytes in the largest binary unit they fill: 812 MiB, 1.80 GiB; '-' when there is none."""
    if not isinstance(count, (int, float)) or count < 0:
        return "-"
    size, unit, spec = next(row for row in BYTE_UNITS if count >= row[0] or row[0] == 1)
    return f"{format(count / size, spec)} {unit}"


def memory_text(event: dict) -> str:
    """'gpu peak 1.80 GiB' or 'rss 812 MiB', by which field the step event carries; '' when neither."""
    return next((f"{label} {byte_size(event[field])}" for field, label in MEMORY_FIELDS
                 if isinstance(event.get(field), (int, float))), "")


class StepRate:
    """The recent pace of training, fed one `step` event at a time."""

    def __init__(self, window: int = RECENT_STEPS):
        self._points: deque[tuple[float, int]] = deque(maxlen=window)

    def observe(self, event: dict) -> None:
        when, step = event.get("train_s", event.get("time")), event.get("step")
        if not isinstance(when, (int, float)) or not isinstance(step, int):
            return
        if self._points and step <= self._points[-1][1]:
            self._points.clear()  # a resumed (or restarted) run counts its pace afresh
        self._points.append((float(when), step))

    def steps_per_s(self) -> float | None:
        if len(self._points) < 2:
            return None
        (t0, s0), (t1, s1) = self._points[0], self._points[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else None

    def eta_s(self, event: dict) -> float | None:
        """Seconds until max_steps at the recent pace; the child's own estimate until there is one."""
        rate, step, total = self.steps_per_s(), event.get("step"), event.get("max_steps")
        if rate and isinstance(step, int) and isinstance(total, int):
            return max(total - step, 0) / rate
        eta = event.get("eta_s")
        return float(eta) if isinstance(eta, (int, float)) else None


def rates_text(event: dict, eta_s: float | None) -> str:
    """The two lines beside the curve: speed and time left, then memory."""
    speed = f"{fmt_number(event.get('tokens_per_s'), ',.0f')} tok/s · eta {duration(eta_s)}"
    return f"{speed}\n{memory_text(event) or 'memory -'}"
