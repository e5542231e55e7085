"""The home screen's training runs: what each has produced so far."""

from __future__ import annotations

from pathlib import Path

from tui.catalog import RunSummary
from tui.messages import RunChosen
from tui.widgets.listing import Listing


def _mark(present: bool) -> str:
    return "✓" if present else "·"


class RunList(Listing):
    TITLE = "runs"
    COLUMNS = ("run", "recipe", "steps", "adapter", "merged", "gguf", "eval")
    EMPTY = "no runs yet — press t to train the built-in 林栀 on the tiny base"

    def show_runs(self, runs: list[RunSummary]) -> None:
        self.show_rows([
            (
                str(summary.run.root),
                (
                    summary.id,
                    summary.recipe,
                    "?" if summary.steps is None else str(summary.steps),
                    _mark(summary.has_adapter),
                    _mark(summary.has_merged),
                    ", ".join(model.stem.rsplit("-", 1)[-1] for model in summary.models) or "·",
                    _mark(summary.has_eval),
                ),
            )
            for summary in runs
        ])

    def chosen(self, key: str) -> RunChosen:
        return RunChosen(Path(key))
