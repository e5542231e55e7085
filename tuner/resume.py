"""Where `hearth train --resume RUN` starts: the newest checkpoint that loads, or a refusal.

An explicit resume never trains from step 0: that would overwrite a finished adapter and mix two runs'
metrics. Checkpoints are tried newest first; one that cannot be loaded (no trainer state, weights cut
short, a damaged optimizer file — a kill or a full disk mid-save) is skipped with a warning naming it.
With none left the resume is refused in one line and nothing in the run changes. The metrics of the
steps after the chosen checkpoint are dropped, since those steps are trained again.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Callable

from hearth.atomic import write_text
from hearth.errors import UserError
from hearth.paths import RunPaths
from hearth.weights import safetensors_files

TRAINER_STATE = "trainer_state.json"
# torch.save files the trainer reloads when present: each is a zip archive, whose directory sits at its end.
TORCH_FILES = ("optimizer.pt", "scheduler.pt", "rng_state.pth")


def checkpoints_newest_first(run: RunPaths) -> list[Path]:
    found = [(int(p.name.rsplit("-", 1)[1]), p) for p in run.checkpoints.glob("checkpoint-*")
             if p.is_dir() and p.name.rsplit("-", 1)[1].isdigit()]
    return [path for _, path in sorted(found, reverse=True)]


def checkpoint_problem(checkpoint: Path) -> str | None:
    """Why the trainer could not resume from `checkpoint`, or None when it can."""
    try:
        state = json.loads((checkpoint / TRAINER_STATE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"no {TRAINER_STATE}"
    except (OSError, ValueError):
        return f"{TRAINER_STATE} is unreadable"
    if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
        return f"{TRAINER_STATE} has no global_step"
    try:
        safetensors_files(checkpoint)
    except UserError as exc:
        return str(exc).removeprefix(f"{checkpoint}: ")
    for name in TORCH_FILES:
        path = checkpoint / name
        if path.exists() and not zipfile.is_zipfile(path):
            return f"{name} is cut short or damaged"
    return None


def resume_checkpoint(run: RunPaths, warn: Callable[[str], None]) -> Path:
    """The newest loadable checkpoint of `run` (warning about newer ones that are not); refuses when there is none."""
    skipped = []
    for checkpoint in checkpoints_newest_first(run):
        problem = checkpoint_problem(checkpoint)
        if problem is None:
            if skipped:
                warn(f"resuming from {checkpoint.name}, the newest checkpoint that loads: {'; '.join(skipped)}")
            drop_metrics_after(run, _step_of(checkpoint))
            return checkpoint
        skipped.append(f"{checkpoint.name} cannot be loaded ({problem})")
    found = "; ".join(skipped) if skipped else f"{run.checkpoints} holds none"
    kept = " (its adapter is kept as it is)" if run.adapter.exists() else ""
    raise UserError(f"run {run.root.name} has no checkpoint to resume from: {found}; nothing was changed{kept} — "
                    f"start a new run with `hearth train --recipe {run.recipe}`")


def _step_of(checkpoint: Path) -> int:
    return int(checkpoint.name.rsplit("-", 1)[1])


def drop_metrics_after(run: RunPaths, step: int) -> None:
    """Keep metrics.jsonl up to `step`: the steps after it are trained again and logged anew."""
    if not run.metrics.is_file():
        return
    lines = run.metrics.read_text(encoding="utf-8").splitlines()
    steps = [_record_step(line) for line in lines]
    kept = [line for line, at in zip(lines, steps) if at is not None and at <= step]
    if len(kept) != len(lines):
        write_text(run.metrics, "".join(line + "\n" for line in kept))


def _record_step(line: str) -> int | None:
    """The step of one metrics line; None for a line cut by a kill (dropped with the later steps)."""
    try:
        return int(json.loads(line).get("step", 0))
    except (ValueError, AttributeError, TypeError):
        return None
