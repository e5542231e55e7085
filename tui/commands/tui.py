"""`hearth tui`: the Textual app (runs, personas, chats; talking, training, exporting)."""

from __future__ import annotations


def run_tui(args) -> int:
    from rich.console import Console

    from hearth.paths import hearth_home
    from tui.app import HearthApp
    from tui.terminal import driver_drawing_on, stderr_to_log

    log_path = hearth_home() / "logs" / "tui-stderr.log"
    size_before = log_path.stat().st_size if log_path.exists() else 0
    with stderr_to_log(log_path) as terminal:
        app = HearthApp(user_name=args.user, driver_class=driver_drawing_on(terminal) if terminal else None)
        app.run()
    if log_path.exists() and log_path.stat().st_size > size_before:
        Console(stderr=True, highlight=False).print(f"[dim]native libraries wrote to {log_path} meanwhile[/]")
    return app.return_code or 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("tui", help="the terminal app: runs, personas, chats, training, export")
    parser.add_argument("--user", help="your name in the chats, for {{user}} in cards "
                        "(default: 你, or User with an English card)")
    parser.set_defaults(func=run_tui)
