"""A data check (tuner.data_check) drawn with rich: kept and rejected rows with file:line and reason, the token-length
percentiles, and what max length would cut. One renderer for `hearth data check` and the train screen's log."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from tuner.data_report import DataReport, PreferenceReport

SHOW_REJECTED = 20
LENGTH_COLUMNS = ("min", "p50", "p90", "p99", "max", "mean")


def summary_line(report: DataReport) -> str:
    """The check in one line, for a status bar."""
    stats = report.token_length
    return (f"{report.rows_kept} rows kept, {report.rows_rejected} rejected · tokens p50 {stats.p50} "
            f"p99 {stats.p99} max {stats.max} · {report.truncated_rows} cut at {report.max_length}")


def preference_line(report: PreferenceReport) -> Text:
    what = f"{report.pairs} pairs" if report.method == "dpo" else \
        f"{report.desirable} desirable and {report.undesirable} undesirable replies"
    return Text.assemble(("preference data", "bold"), f": {what} for {report.method.upper()} "
                         f"({report.rows_rejected} row{'' if report.rows_rejected == 1 else 's'} it could not use); train with "
                         f"`hearth train --method {report.method} --from RUN`")


def report_renderables(report: DataReport, tokenizer_name: str, preference: PreferenceReport | None = None) -> list:
    """The whole report, top to bottom, as rich renderables (print each, or write each to a log). For preference
    files the lengths are of the prompt with its chosen (or rated) reply, and a line says what DPO/KTO gets."""
    formats = ", ".join(f"{path} ({fmt})" for path, fmt in report.files.items())
    shown = [Text.assemble((str(report.rows_kept), "bold"), " rows kept, ",
                           (str(report.rows_rejected), "bold"), f" rejected — {formats}")]
    shown += [Text.assemble("  ", ("rejected", "red"), f" {row}") for row in report.rejected[:SHOW_REJECTED]]
    if report.rows_rejected > SHOW_REJECTED:
        shown.append(Text(f"  … and {report.rows_rejected - SHOW_REJECTED} more"))
    table = Table(title=f"tokens per conversation ({tokenizer_name})")
    for column in LENGTH_COLUMNS:
        table.add_column(column, justify="right")
    table.add_row(*(str(getattr(report.token_length, c)) for c in LENGTH_COLUMNS))
    shown.append(table)
    eot = report.end_of_turn_token
    tail = (f"{report.assistant_tokens} tokens carry the loss (replies ending in {eot})" if preference is None else
            f"{report.assistant_tokens} tokens in the chosen or rated replies (ending in {eot})")
    shown.append(Text(f"{report.truncated_rows} would be cut at max length {report.max_length}; {tail}"))
    if preference is not None:
        shown += [Text.assemble("  ", ("rejected", "red"), f" {row}") for row in preference.rejected[:SHOW_REJECTED]
                  if row not in report.rejected]
        shown.append(preference_line(preference))
    return shown
