"""The second verdict of an export, apart from fidelity: what the trained model itself does on the stop check's
prompt (exporter/behaviour.py), each warning with its advice. These never fail a faithful export; the training
is what to change."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class BehaviourNotes(Static):
    def on_mount(self) -> None:
        self.border_title = "behaviour of the trained model (advice, never a failure)"

    def show_warnings(self, warnings: list[dict] | None, run_name: str = "RUN") -> None:
        if not warnings:
            self.update(Text("none: it ended its turn and stayed in character on the check's prompt",
                             style="green"))
            return
        text = Text()
        for warning in warnings:
            text.append("• ", style="yellow").append(warning["issue"], style="bold yellow")
            text.append(f" — {warning['advice']}\n")
        text.append(f"`hearth eval {run_name}` measures the model on more prompts", style="dim")
        self.update(text)
