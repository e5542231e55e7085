"""An eval drawn with rich: the measures table (held-out loss first, each measure's data value, every side, which
side is nearer the data), the verdict line, and each prompt's replies side by side with the data's reference.

One renderer for `hearth eval`, the demo's training step and the TUI's eval screen.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from tuner.evaluate.report import BASE, TUNED, EvalReport, format_loss as _loss_cell, format_margin as _margin_cell
from tuner.evaluate.report import format_value as _value

REPLY_CHARS = 600  # a reply longer than this is cut in the terminal (eval.md keeps it whole)


def _closer(side: str | None) -> Text:
    styles = {TUNED: "green", BASE: "yellow", "tie": "dim"}
    return Text(side or "", style=styles.get(side or "", ""))


def eval_table(report: EvalReport) -> Table:
    table = Table(title=f"eval of {report.run} ({len(report.samples)} prompts from {report.source})",
                  title_justify="left", show_lines=False)
    table.add_column("measure", no_wrap=True)
    table.add_column("data", justify="right")
    for side in report.sides:
        table.add_column(side, justify="right")
    table.add_column("closer")
    table.add_row("held-out loss", "", *(_loss_cell(report.loss.get(s)) for s in report.sides),
                  _closer(TUNED if report.verdict.get("loss_lower") else BASE if report.verdict.get("loss_lower") is False
                          else None))
    if report.preference:  # a DPO/KTO run: its base side is the model it started from
        higher = report.verdict.get("margin_higher")
        table.add_row("preference margin", "", *(_margin_cell(report.preference.get(s)) for s in report.sides),
                      _closer(TUNED if higher else BASE if higher is False else None))
    for row in report.measures:
        table.add_row(row["label"], _value(row["data"], row["percent"]),
                      *(_value(row["values"].get(s), row["percent"]) for s in report.sides), _closer(row["closer"]))
    return table


def verdict_text(report: EvalReport) -> Text:
    return Text(report.verdict.get("line", ""), style="bold")


def _cut(text: str) -> str:
    return text if len(text) <= REPLY_CHARS else text[:REPLY_CHARS] + " …"


def side_by_side(report: EvalReport, prompts: int | None = None) -> list[Table]:
    """One small table per prompt: the prompt, the data's reply, then each side's."""
    tables = []
    for number, sample in enumerate(report.samples[:prompts], 1):
        table = Table(title=f"prompt {number}: {_cut(sample['messages'][-1]['content'])}", title_justify="left",
                      show_header=False, expand=True, show_lines=True)
        table.add_column("who", style="bold", no_wrap=True)
        table.add_column("reply", ratio=1)
        table.add_row("data", Text(_cut(sample["reference"] or "(none given)"), style="cyan"))
        for side in report.sides:
            reply = sample["replies"].get(side)
            if reply is not None:
                ending = "" if reply["stopped"] else "\n[cut at the reply budget]"
                table.add_row(side, Text(_cut(reply["text"] or "(empty)") + ending))
        tables.append(table)
    return tables


def definitions(report: EvalReport) -> Text:
    return Text("\n".join(f"{row['label']}: {row['definition']}" for row in report.measures), style="dim")


def eval_view(report: EvalReport, prompts: int | None = None, *, with_definitions: bool = False) -> Group:
    parts = [eval_table(report), verdict_text(report), *side_by_side(report, prompts)]
    if with_definitions:
        parts.append(definitions(report))
    return Group(*parts)


def print_eval(console: Console, report: EvalReport, prompts: int | None = None) -> None:
    """What `hearth eval` and the demo print."""
    console.print(eval_view(report, prompts))


def compare_table(comparison: dict) -> Group:
    a, b = comparison["a"], comparison["b"]
    table = Table(title=f"{a} against {b}", title_justify="left")
    for column in ("measure", f"data ({a})", f"tuned {a}", f"data ({b})", f"tuned {b}", "nearer its data"):
        table.add_column(column, justify="left" if column in ("measure", "nearer its data") else "right")
    losses, drops = comparison["loss"], comparison["loss_drop"]
    table.add_row("held-out loss (tuned)", "", _loss_cell(losses["a"].get(TUNED)), "", _loss_cell(losses["b"].get(TUNED)),
                  "")
    table.add_row("loss drop from training", "", _value(drops["a"], False), "", _value(drops["b"], False), "")
    margins = comparison.get("margin", {})
    if any(margins.values()):
        table.add_row("preference margin (tuned)", "", _margin_cell(margins.get("a")), "", _margin_cell(margins.get("b")),
                      "")
    names = {"a": a, "b": b, "tie": "tie", None: ""}
    for row in comparison["rows"]:
        table.add_row(row["label"], _value(row["a"]["data"], row["percent"]), _value(row["a"]["tuned"], row["percent"]),
                      _value(row["b"]["data"], row["percent"]), _value(row["b"]["tuned"], row["percent"]),
                      names[row["better"]])
    return Group(table, Text(comparison["line"], style="bold"))
