"""How the CLI's commands print: one kind of rich console, and stored times as the lists show them."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console


def make_console(stderr: bool = False) -> Console:
    return Console(highlight=False, stderr=stderr)


def short_time(timestamp: float) -> str:
    """A stored unix time as the lists show it: 2026-11-22 16:08."""
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
