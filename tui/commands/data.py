"""`hearth data check FILE...`: what training would make of these files, without training."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from hearth.atomic import write_json

console = Console(highlight=False)
SHOW_REJECTED = 20


def check(args) -> int:
    from tuner.data import load_conversations
    from tuner.model_loading import load_tokenizer, resolve_base
    from tuner.prepare import prepare
    from tuner.recipe import load_recipe

    recipe = load_recipe(args.recipe)
    if args.format:
        recipe.data.format = args.format
    if args.max_length:
        recipe.data.max_length = args.max_length
    loaded = load_conversations(args.files, recipe.data.format)  # bad files fail before any model loads
    base = resolve_base(args.tokenizer or recipe.model.base)
    report = prepare(loaded, load_tokenizer(base, recipe), recipe).report
    print_report(report, base)
    if args.report:
        write_json(args.report, report)
        console.print(f"report written to {args.report}")
    return 0


def print_report(report: dict, tokenizer_name: str) -> None:
    formats = ", ".join(f"{path} ({fmt})" for path, fmt in report["files"].items())
    console.print(f"[bold]{report['rows_kept']}[/] rows kept, [bold]{report['rows_rejected']}[/] rejected — {formats}")
    for row in report["rejected"][:SHOW_REJECTED]:
        console.print(f"  [red]rejected[/] {row['file']}:{row['line']}: {row['reason']}", soft_wrap=True)
    if report["rows_rejected"] > SHOW_REJECTED:
        console.print(f"  … and {report['rows_rejected'] - SHOW_REJECTED} more")
    stats = report["token_length"]
    table = Table(title=f"tokens per conversation ({tokenizer_name})")
    for column in ("min", "p50", "p90", "p99", "max", "mean"):
        table.add_column(column, justify="right")
    table.add_row(*(str(stats[c]) for c in ("min", "p50", "p90", "p99", "max", "mean")))
    console.print(table)
    console.print(f"{report['truncated_rows']} would be cut at max length {report['max_length']}; "
                  f"{report['assistant_tokens']} tokens carry the loss (replies ending in {report['end_of_turn_token']})")


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="dataset checks")
    sub = parser.add_subparsers(dest="data_command", required=True)
    chk = sub.add_parser("check", help="load, validate and measure dataset files")
    chk.add_argument("files", nargs="+", metavar="FILE")
    chk.add_argument("--format", choices=("auto", "messages", "sharegpt", "alpaca", "tarot"))
    chk.add_argument("--recipe", default="tiny-offline", help="recipe whose tokenizer and max length to use")
    chk.add_argument("--tokenizer", help="base model whose tokenizer to measure with (default: the recipe's)")
    chk.add_argument("--max-length", type=int)
    chk.add_argument("--report", help="also write the report as JSON here")
    chk.set_defaults(func=check)
