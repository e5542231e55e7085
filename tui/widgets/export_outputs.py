"""What an export left on disk and how to use it: the files in the run's gguf/ directory, the Modelfile, the
base GGUF a LoRA applies to, and the `ollama create … && ollama run …` command the exporter wrote in its
report."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import Static

from exporter.export_report import ExportReport


def _size(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 100_000 else f"{size / 1e3:,.1f} kB"


class ExportOutputs(Static):
    def on_mount(self) -> None:
        self.border_title = "files written"

    def show_outputs(self, report: ExportReport | None, gguf_dir: Path) -> None:
        if not report:
            self.update("")
            return
        text = Text()
        text.append(f"{gguf_dir}/\n", style="bold")
        files = sorted(p for p in gguf_dir.iterdir() if p.is_file()) if gguf_dir.is_dir() else []
        for path in files:
            text.append(f"  {path.name}", style="")
            text.append(f"  {_size(path.stat().st_size)}\n", style="dim")
        if report.lora:
            text.append("LoRA applies to: ", style="bold").append(f"{report.lora['base']}\n")
        text.append("Modelfile: ", style="bold").append(f"{gguf_dir / 'Modelfile'}\n")
        if report.ollama:
            text.append("run it in Ollama (y copies it):\n", style="bold").append(report.ollama, style="cyan")
        self.update(text)
