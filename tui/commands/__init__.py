"""One module per group of `hearth` subcommands; each exposes `register(subparsers)`.

The table lives in `tui.cli.COMMAND_MODULES`.
"""
