"""An export's fidelity, one row per file written: every parity check of exporter/verify.py as the report holds
it (nothing is measured again here), the file's size, and whether the file passed; and the highlighted file's
checks in the exporter's own words (exporter.verify.summary_lines)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from rich.text import Text
from textual.widgets import DataTable, Static

from exporter.export_report import ExportReport, FileReport

NOT_MEASURED = Text("—", style="dim")  # the check does not apply to this kind of file


def _mb(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e6:,.1f} MB"


def _count(check: dict | None, total: str, bad: Callable[[dict], int]) -> Text:
    """`good/total` of a check, red when it failed."""
    if not check:
        return NOT_MEASURED
    return Text(f"{check[total] - bad(check)}/{check[total]}", style="" if check["passed"] else "bold red")


def _verdict(passed: bool | None, good: str = "pass", bad: str = "FAIL") -> Text:
    if passed is None:
        return NOT_MEASURED
    return Text(good, style="green") if passed else Text(bad, style="bold red")


def _perplexity(file: FileReport) -> Text:
    return Text(f"{file.perplexity['increase']:+.2%}") if file.perplexity else NOT_MEASURED


def _stop(file: FileReport) -> Text:
    return _verdict(file.stop["passed"], "agree", "DIFFER") if file.stop else NOT_MEASURED


# (column title, the cell from a file's report row and its size). A LoRA row carries only `logits` and `passed`.
COLUMNS: tuple[tuple[str, Callable[[FileReport, int | None], object]], ...] = (
    ("file", lambda f, size: f.type),
    ("size", lambda f, size: Text(_mb(size), justify="right")),
    ("bos/eos", lambda f, size: _verdict(f.specials["passed"], "same", "DIFFER") if f.specials else NOT_MEASURED),
    ("tokenizer", lambda f, size: _count(f.tokenizer, "probes", lambda c: len(c["mismatches"]))),
    ("argmax", lambda f, size: _count(f.logits, "positions", lambda c: c["argmax_mismatches"])),
    ("ppl Δ", lambda f, size: _perplexity(f)),
    ("stop", lambda f, size: _stop(f)),
    ("fidelity", lambda f, size: _verdict(f.passed)),
)


def report_rows(report: ExportReport) -> list[FileReport]:
    """The report's files, then its LoRA (its check is argmax agreement of base + LoRA with the merged model)."""
    rows = list(report.files)
    lora = report.lora
    if lora:
        rows.append(FileReport(Path(lora["path"]).name, "lora", passed=lora["passed"],
                               logits={key: lora[key] for key in ("positions", "argmax_mismatches", "passed")}))
    return rows


def file_sizes(report: ExportReport, gguf_dir: Path | None) -> dict[str, int]:
    """Each file's size: the quantizer's own numbers in the report, else the file on disk."""
    sizes: dict[str, int] = {}
    f16 = next((f.file for f in report.files if f.type == "f16"), None)
    for q in report.quantize:
        sizes[q["file"]] = q["bytes_after"]
        if f16 is not None:
            sizes.setdefault(f16, q["bytes_before"])
    for row in report_rows(report):
        path = Path(gguf_dir) / row.file if gguf_dir is not None else None
        if row.file not in sizes and path is not None and path.is_file():
            sizes[row.file] = path.stat().st_size
    return sizes


def detail_lines(row: FileReport, report: ExportReport) -> list[str]:
    """The exporter's own sentences for one row (its behaviour warnings are shown apart, not here)."""
    from exporter.export import lora_line
    from exporter.verify import summary_lines

    if row.type == "lora":
        return [lora_line(report.lora)]
    return [line for line in summary_lines(row) if not line.startswith("warning:")]


class VerifyTable(DataTable):
    """One row per file; the highlighted row's checks are drawn by CheckDetails."""

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.report: ExportReport | None = None
        self.file_rows: list[FileReport] = []

    def on_mount(self) -> None:
        self.border_title = "fidelity (decides pass/fail)"
        self.add_columns(*(title for title, _ in COLUMNS))

    def show_report(self, report: ExportReport | None, gguf_dir: Path | None = None) -> None:
        self.clear()
        self.report, self.file_rows = report, report_rows(report) if report else []
        sizes = file_sizes(report, gguf_dir) if report else {}
        for row in self.file_rows:
            self.add_row(*(cell(row, sizes.get(row.file)) for _, cell in COLUMNS), key=row.file)

    def row_at(self, index: int) -> FileReport | None:
        return self.file_rows[index] if 0 <= index < len(self.file_rows) else None

    def cell_text(self, row: int, column: str) -> str:
        """What one cell says (for tests and for reading the table back)."""
        index = [title for title, _ in COLUMNS].index(column)
        return str(self.get_row_at(row)[index])


class CheckDetails(Static):
    """One file's checks in the exporter's own sentences."""

    def show_row(self, row: FileReport | None, report: ExportReport | None) -> None:
        self.border_title = f"checks of {row.file}" if row else ""
        self.update("\n".join(detail_lines(row, report)) if row and report else "")
