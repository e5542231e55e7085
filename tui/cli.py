"""`hearth`: the command line. Subcommands live in `tui/commands/`, one module per group.

Every user mistake is a `hearth.errors.UserError`: one line on stderr, exit code 2,
no traceback unless `--debug`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rich.console import Console

from hearth import offline
from hearth.errors import UserError
from hearth.verbosity import set_verbose

# Module name in tui.commands -> what it holds. Order is the order of `hearth --help`.
COMMAND_MODULES = {
    "demo": "the whole journey: a real small base, trained, evaluated, exported, talked to",
    "base": "offline base models",
    "data": "dataset checks",
    "train": "training runs and merging",
    "eval": "a run's tuned model against its base, measured side by side",
    "export": "GGUF conversion, quantization, verification",
    "persona": "character cards",
    "chat": "talking to a model",
    "history": "stored chats, and turning them into training data",
    "tarot": "the tarot reader: draws, readings, ratings, training data",
    "tui": "the terminal app: runs, personas, chats, training, export",
}

# Commands that never import the Hugging Face libraries (kept fast to start).
LIGHT_COMMANDS = {"tui.commands.persona", "tui.commands.tarot", "tui.commands.tui"}

err_console = Console(stderr=True, highlight=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hearth", description="Teach a small model a voice; talk to it offline.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--verbose", action="store_true", help="show llama.cpp's and the trainer's own logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"tui.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"tui.commands.{name}":
                continue  # a room not built yet
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    offline.apply()  # no telemetry and no hub look-ups here or in any child (hearth/offline.py)
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv and sys.stdin.isatty() and sys.stdout.isatty():
        argv = ["tui"]  # `hearth` alone in a terminal is the app; piped or scripted, it stays the help text
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        set_verbose()
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if args.func.__module__ not in LIGHT_COMMANDS:
        from tuner.quiet import quiet_hf_libraries

        quiet_hf_libraries()
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        if args.debug:
            raise
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
