"""Beside the loss curve the train screen says tokens/s, the time left at the recent pace and the memory training
holds; the numbers come from the step events alone (tui/train_rates.py), and the training child puts its memory
in each step event (tuner/progress_events.py)."""

from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest

from tui.app import HearthApp
from tui.messages import JobEvent
from tui.screens.train import TrainScreen
from tui.train_rates import StepRate, byte_size, duration, memory_text, rates_text
from tui.widgets.train_progress import TrainProgress


@pytest.mark.parametrize("seconds, shown", [
    (0, "0s"), (44.6, "45s"), (59.4, "59s"), (200, "3m 20s"), (3900, "1h 05m"), (2 * 86400 + 3 * 3600 + 59, "2d 3h"),
    (None, "-"), (-1, "-"), (float("nan"), "-"),
])
def test_duration_reads_like_a_time_left(seconds, shown):
    assert duration(seconds) == shown


@pytest.mark.parametrize("count, shown", [
    (0, "0 B"), (512, "512 B"), (3 * 1024, "3 KiB"), (812 * 2 ** 20, "812 MiB"), (int(1.8 * 2 ** 30), "1.80 GiB"),
    (None, "-"),
])
def test_byte_size_uses_the_largest_unit_it_fills(count, shown):
    assert byte_size(count) == shown


def test_memory_is_the_gpu_peak_when_the_event_has_it_else_the_rss():
    assert memory_text({"gpu_peak_bytes": 2 ** 31, "rss_bytes": 2 ** 20}) == "gpu peak 2.00 GiB"
    assert memory_text({"rss_bytes": 600 * 2 ** 20}) == "rss 600 MiB"
    assert memory_text({}) == ""


def _step(step: int, time: float | None, total: int = 100, **fields) -> dict:
    event = {"event": "step", "step": step, "max_steps": total, "loss": 2.0, "tokens_per_s": 1234.5, **fields}
    return event if time is None else {**event, "time": time}


def test_eta_is_the_steps_left_at_the_recent_pace():
    rate = StepRate(window=3)
    first = _step(1, 1000.0, eta_s=500.0)
    rate.observe(first)
    assert rate.eta_s(first) == 500.0  # one point has no pace yet: the child's own estimate
    rate.observe(_step(2, 1100.0))  # a slow first step (warm-up) ...
    for step, when in ((3, 1102.0), (4, 1104.0)):
        rate.observe(_step(step, when))
    # ... leaves the window: 2 steps in 4 s, 96 steps to go
    assert rate.steps_per_s() == pytest.approx(0.5)
    assert rate.eta_s(_step(4, 1104.0)) == pytest.approx(192.0)


def test_the_pace_runs_on_the_childs_training_seconds_when_the_step_carries_them():
    rate = StepRate(window=8)
    for step, when, train_s in ((1, 0.0, 0.0), (2, 1.0, 1.0), (3, 37.0, 2.0)):  # 35 s of eval and saving before 3
        rate.observe(_step(step, when, train_s=train_s))
    assert rate.steps_per_s() == pytest.approx(1.0)  # 2 steps in 2 s of training, not in 37 s
    assert rate.eta_s(_step(3, 37.0)) == pytest.approx(97.0)


def test_a_resumed_run_counts_its_pace_afresh_and_timeless_events_fall_back():
    rate = StepRate()
    for step, when in ((10, 0.0), (20, 10.0)):
        rate.observe(_step(step, when))
    rate.observe(_step(5, 50.0))  # resumed from an earlier checkpoint
    assert rate.steps_per_s() is None
    timeless = StepRate()
    timeless.observe(_step(3, None, eta_s=70.0))
    assert timeless.eta_s(_step(3, None, eta_s=70.0)) == 70.0
    assert rates_text(_step(3, None), None) == "1,234 tok/s · eta -\nmemory -"


def _started_callback(tmp_path):
    """The training child's events callback at the start of a 10-step run, and the trainer state it reads."""
    from tuner.progress_events import EventsCallback

    callback = EventsCallback(tmp_path / "metrics.jsonl")
    state = SimpleNamespace(global_step=0, max_steps=10, epoch=0.0, num_input_tokens_seen=0, is_world_process_zero=True)
    callback.on_train_begin(None, state, None)
    return callback, state


def test_the_training_child_puts_its_memory_in_each_step_event(tmp_path):
    import torch

    from hearth.events import route_events_to

    stream = io.StringIO()
    route_events_to(stream)
    try:
        callback, state = _started_callback(tmp_path)
        state.global_step, state.num_input_tokens_seen, state.epoch = 2, 256, 0.2
        callback.on_log(None, state, None, logs={"loss": 1.5, "learning_rate": 1e-3})
    finally:
        route_events_to(None)
    step = [json.loads(line) for line in stream.getvalue().splitlines()][-1]
    field = "gpu_peak_bytes" if torch.cuda.is_available() and torch.cuda.is_initialized() else "rss_bytes"
    assert step["event"] == "step" and step[field] > 10 * 2 ** 20  # this process holds torch: well over 10 MiB
    logged = json.loads((tmp_path / "metrics.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert logged[field] == step[field]


def _rendered(widget) -> str:
    return str(widget.render())


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_the_train_screen_shows_rates_eta_and_memory_beside_the_curve(size):
    app = HearthApp()
    async with app.run_test(size=size) as pilot:
        await pilot.press("t")
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        progress = screen.query_one(TrainProgress)
        progress.begin("training…")
        for step, when in ((1, 100.0), (2, 102.0), (3, 104.0)):  # a step each 2 s, 7 to go: 14 s left
            screen.post_message(JobEvent("train", _step(step, when, total=10, loss=3.0 - step / 10,
                                                         rss_bytes=700 * 2 ** 20)))
        screen.post_message(JobEvent("train", {"event": "eval", "step": 3, "eval_loss": 2.75}))
        await pilot.pause()
        rates = screen.query_one("#job-rates")
        assert _rendered(rates) == "1,234 tok/s · eta 14s\nrss 700 MiB"
        assert _rendered(screen.query_one("#job-metrics")) == "step 3/10 · loss 2.7000 · eval loss 2.7500"
        assert "eval at step 3: loss 2.7500" in "\n".join(line.text for line in screen.query_one("#job-log").lines)
        spark = screen.query_one("#loss-sparkline")
        assert spark.data == [2.9, 2.8, 2.7] and spark.visible
        # beside the curve, on the same rows, and whole on the screen
        assert rates.region.y == spark.region.y and rates.region.x >= spark.region.right
        assert rates.region.right <= size[0] and rates.region.width >= len("1,234 tok/s · eta 14s")

        screen.post_message(JobEvent("train", _step(4, 106.0, total=10, gpu_peak_bytes=3 * 2 ** 30)))
        await pilot.pause()
        assert _rendered(rates).endswith("gpu peak 3.00 GiB")
        progress.begin("training…")  # a new job starts clean
        await pilot.pause()
        assert progress.losses == [] and progress.eval_losses == [] and not screen.query_one("#job-graph").display


def test_the_childs_tokens_per_s_and_eta_leave_out_evaluation_and_saving(tmp_path, monkeypatch):
    from hearth.events import route_events_to

    clock = [100.0]
    monkeypatch.setattr("tuner.progress_events.time.perf_counter", lambda: clock[0])
    stream = io.StringIO()
    route_events_to(stream)
    try:
        callback, state = _started_callback(tmp_path)
        args = SimpleNamespace(output_dir=str(tmp_path))

        def train_step():  # one second, 128 tokens
            clock[0] += 1.0
            state.global_step += 1
            state.num_input_tokens_seen += 128
            callback.on_step_end(args, state, None)

        for _ in range(2):
            train_step()
        callback.on_log(args, state, None, logs={"loss": 2.0})
        clock[0] += 10.0  # an evaluation ...
        callback.on_evaluate(args, state, None)
        clock[0] += 5.0  # ... and a checkpoint
        callback.on_save(args, state, None)
        for _ in range(2):
            train_step()
        callback.on_log(args, state, None, logs={"loss": 1.9})
    finally:
        route_events_to(None)
    steps = [event for event in map(json.loads, stream.getvalue().splitlines()) if event["event"] == "step"]
    assert [event["tokens_per_s"] for event in steps] == [128.0, 128.0]  # not 256 tokens over 17 s
    assert steps[-1]["eta_s"] == 6.0  # six one-second steps left
    assert [event["train_s"] for event in steps] == [2.0, 4.0]  # the train screen's clock
