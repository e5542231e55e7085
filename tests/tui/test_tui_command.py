"""`hearth tui` is a subcommand of the CLI's table (tui/cli.py lists it in COMMAND_MODULES)."""

from __future__ import annotations

import argparse

from tui.commands import tui as tui_command


def test_tui_subcommand_parses_and_points_at_the_app():
    parser = argparse.ArgumentParser(prog="hearth")
    tui_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["tui", "--user", "阿青"])
    assert args.func is tui_command.run_tui and args.user == "阿青"
    assert parser.parse_args(["tui"]).user is None  # the chat picks 你 or User by the persona card's language
