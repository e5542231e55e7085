"""`hearth data check FILE...`: what training would make of these files, without training."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from hearth.atomic import write_json
from tuner.formats import FORMATS_BY_NAME

console = Console(highlight=False)


def check(args) -> int:
    from tuner.data_check import check_data
    from tuner.recipe import load_recipe
    from tui.data_report import report_renderables

    recipe = load_recipe(args.recipe)
    if args.format:
        recipe.data.format = args.format
    if args.max_length:
        recipe.data.max_length = args.max_length
    checked = check_data(recipe, args.files, tokenizer=args.tokenizer)
    for renderable in report_renderables(checked.report, checked.tokenizer, checked.preference):
        console.print(renderable, soft_wrap=isinstance(renderable, Text))  # a rejected file:line stays one line
    if args.report:
        write_json(args.report, checked.report.to_json())
        console.print(f"report written to {args.report}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("data", help="dataset checks")
    sub = parser.add_subparsers(dest="data_command", required=True)
    chk = sub.add_parser("check", help="load, validate and measure dataset files")
    chk.add_argument("files", nargs="+", metavar="FILE")
    chk.add_argument("--format", choices=("auto", *FORMATS_BY_NAME))
    chk.add_argument("--recipe", default="tiny-offline", help="recipe whose tokenizer and max length to use")
    chk.add_argument("--tokenizer", help="base model whose tokenizer to measure with (default: the recipe's)")
    chk.add_argument("--max-length", type=int)
    chk.add_argument("--report", help="also write the report as JSON here")
    chk.set_defaults(func=check)
