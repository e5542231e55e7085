"""A TrainerCallback that turns the trainer's logs into hearth events and `metrics.jsonl` lines,
and stops cleanly (saving a checkpoint) when the user cancels with SIGINT/SIGTERM."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from transformers import TrainerCallback

from hearth.events import emit


def memory_fields() -> dict:
    """How much memory training holds, for the step event: the GPU's peak allocation when training runs
    on CUDA, else this process's resident set (the TUI shows whichever is there)."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return {"gpu_peak_bytes": torch.cuda.max_memory_allocated()}
    from tuner.fast.host_memory import rss_bytes

    return {"rss_bytes": rss_bytes()}


# TRL's preference logs -> the step/eval event fields they become: how far the implicit reward puts the chosen
# reply above the rejected one, and how often it does (DPO; KTO logs the margin only).
PREFERENCE_LOGS = {"rewards/margins": "reward_margin", "rewards/accuracies": "reward_accuracy"}


class EventsCallback(TrainerCallback):
    def __init__(self, metrics_path: Path):
        self.metrics_path = metrics_path
        self.cancelled = False
        self._last = None  # (training seconds, tokens seen, step) at the previous log
        # Training seconds leave out evaluation and checkpoint saves, for tokens/s and the ETA here and in the
        # train screen (each step event carries them as `train_s`): counted in, the step after an eval read
        # 72 tok/s against ~220 and an ETA three times the real one.
        self._started = None
        self._paused_s = 0.0  # evaluating and saving so far
        self._mark = None  # when the last training step or pause ended

    def install_signal_handlers(self) -> None:
        def request_stop(signum, _frame):
            self.cancelled = True
            emit("stage", message=f"stopping after this step ({signal.Signals(signum).name}); saving a checkpoint")

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

    def _write(self, record: dict, state) -> None:
        if not state.is_world_process_zero:
            return
        with self.metrics_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")

    def on_train_begin(self, args, state, control, **kwargs):
        self._started = self._mark = time.perf_counter()
        self._paused_s = 0.0
        self._last = (0.0, state.num_input_tokens_seen or 0, state.global_step)
        emit("stage", message=f"training from step {state.global_step} to {state.max_steps}")

    def _pause_ended(self) -> None:
        """An evaluation or a save just ended: its time since the last step (or pause) is not training time."""
        now = time.perf_counter()
        if self._mark is not None:
            self._paused_s += now - self._mark
        self._mark = now

    def on_evaluate(self, args, state, control, **kwargs):
        self._pause_ended()

    def on_step_end(self, args, state, control, **kwargs):
        self._mark = time.perf_counter()
        if self.cancelled:
            control.should_save = True
            control.should_training_stop = True

    @staticmethod
    def _preference(logs: dict, prefix: str = "") -> dict:
        """A DPO/KTO trainer's reward margin and accuracy, under hearth's names (absent for SFT)."""
        return {name: round(logs[prefix + key], 4) for key, name in PREFERENCE_LOGS.items() if prefix + key in logs}

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = dict(logs or {})
        tokens = state.num_input_tokens_seen or 0
        if "loss" in logs:
            train_s = time.perf_counter() - self._started - self._paused_s
            then, tokens_then, step_then = self._last
            elapsed = max(train_s - then, 1e-9)
            steps_done = max(state.global_step - step_then, 1)
            eta = (state.max_steps - state.global_step) * elapsed / steps_done
            record = {"step": state.global_step, "max_steps": state.max_steps, "epoch": round(state.epoch or 0, 4),
                      "loss": logs["loss"], "learning_rate": logs.get("learning_rate"),
                      "grad_norm": logs.get("grad_norm"), "tokens_per_s": round((tokens - tokens_then) / elapsed, 1),
                      "eta_s": round(eta, 1), "train_s": round(train_s, 3), **memory_fields(), **self._preference(logs)}
            self._last = (train_s, tokens, state.global_step)
            self._write({"kind": "train", **record}, state)
            emit("step", **record)
        if "eval_loss" in logs:
            record = {"step": state.global_step, "eval_loss": logs["eval_loss"], **self._preference(logs, "eval_")}
            self._write({"kind": "eval", **record}, state)
            emit("eval", **record)

    def on_save(self, args, state, control, **kwargs):
        self._pause_ended()
        emit("saved", path=str(Path(args.output_dir) / f"checkpoint-{state.global_step}"), step=state.global_step)
