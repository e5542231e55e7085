"""Helpers for driving the Textual app in tests: runs on disk, waiting for the app to get somewhere."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from hearth.paths import RunPaths, runs_dir


async def wait_for(pilot, condition, timeout: float = 30.0, what: str = "the condition"):
    """Let the app run until `condition()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        await pilot.pause(0.05)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def screen_rows(screen) -> list[str]:
    """The screen as the terminal shows it, one string per row."""
    return ["".join(segment.text for segment in strip) for strip in screen._compositor.render_strips()]  # noqa: SLF001


def make_run(name: str, recipe: str = "tiny-offline", steps: int = 0, adapter: bool = False,
             gguf: Path | None = None) -> RunPaths:
    """A run directory as training and export leave it (only the files the app reads)."""
    run = RunPaths(runs_dir() / name)
    run.root.mkdir(parents=True)
    run.recipe.write_text(f"name: {recipe}\n", encoding="utf-8")
    if steps:
        lines = [json.dumps({"kind": "train", "step": s, "loss": 3.0 - s / 10}) for s in range(2, steps + 1, 2)]
        run.metrics.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if adapter:
        run.adapter.mkdir()
        (run.adapter / "adapter_config.json").write_text("{}", encoding="utf-8")
    if gguf is not None:
        run.gguf.mkdir()
        (run.gguf / f"{name}-f16.gguf").symlink_to(gguf)
    return run
