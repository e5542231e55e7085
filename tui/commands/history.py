"""`hearth history chats|export-dataset|export-preferences`: the stored conversations, and turning kept ones into
training data — SFT conversations, or what was chosen, edited and rated as preference data."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from hearth.errors import UserError
from tui.cli_output import make_console, short_time
from tui.reply_stream import STYLES


def history_chats_command(args: argparse.Namespace) -> int:
    from companion.history import HistoryStore

    console = make_console()
    with HistoryStore() as store:
        if args.chat_id is not None:
            return _show_chat(console, store, args.chat_id)
        chats = store.chats(kept_only=args.kept, limit=args.limit)
        if not chats:
            console.print("no chats yet; `hearth chat` starts one")
            return 0
        table = Table(title="chats", title_justify="left")
        for column in ("id", "updated", "persona", "model", "messages", "kept", "title"):
            table.add_column(column, overflow="fold")
        for chat in chats:
            table.add_row(
                str(chat.id), short_time(chat.updated), Text(chat.persona or "-"), Text(Path(chat.model).name or "-"),
                str(chat.message_count), "✓" if chat.kept else "", Text(chat.title),
            )
        console.print(table)
    return 0


def _show_chat(console: Console, store, chat_id: int) -> int:
    chat = store.chat(chat_id)
    console.print(
        Text(f"chat #{chat.id} · {chat.persona or 'no persona'} · {Path(chat.model).name} · "
             f"started {short_time(chat.created)}" + (" · kept" if chat.kept else "")
             + (f" · rated {chat.rating}/5" if chat.rating is not None else ""), style="bold")
    )
    for message in store.messages(chat_id):
        style = "bold cyan" if message.role == "user" else "bold magenta"
        console.print(Text(f"{message.role} › ", style=style) + Text(message.content))
        if message.reasoning:
            console.print(Text(f"  (thinking) {message.reasoning}", style=STYLES["reasoning"]))
        curation = _curation(store, message)
        if curation:
            console.print(Text(f"  {curation}", style="dim"))
        if message.stats.get("completion_tokens") is not None:
            console.print(Text(f"  {message.stats['completion_tokens']} tokens · "
                               f"{message.stats.get('tokens_per_s') or 0:.1f} tok/s · "
                               f"first token {message.stats.get('ttft_s') or 0:.2f}s", style="dim"))
    return 0


def _curation(store, message) -> str:
    """`reply 2 of 3 · edited · rated 5/5`: what was chosen, fixed and rated at this message."""
    count = len(store.alternatives(message.id)) if message.chosen is not None else 0
    parts = [f"reply {message.chosen + 1} of {count}" if count else "",
             "edited" if message.original is not None else "",
             f"rated {message.rating}/5" if message.rating is not None else ""]
    return " · ".join(p for p in parts if p)


def _chat_ids(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise UserError(f"--chats takes chat ids separated by commas (like 3,7,12), not '{text}'") from None


def export_dataset_command(args: argparse.Namespace) -> int:
    from companion.dataset_export import export_dataset
    from companion.history import HistoryStore

    with HistoryStore() as store:
        summary = export_dataset(store, args.out, _chat_ids(args.chats))
    console = make_console()
    console.print(f"wrote {len(summary.written)} chat(s), {summary.turns} replies, to {args.out}")
    for chat_id, why in summary.skipped.items():
        console.print(f"[dim]skipped chat #{chat_id}: {why}[/]")
    return 0


def export_preferences_command(args: argparse.Namespace) -> int:
    from companion.history import HistoryStore
    from companion.preferences import collect, write_rows
    from companion.readings import ReadingStore
    from spreads.reading_rows import rated_reading_rows

    unpaired_out = args.kto or str(Path(args.out).with_suffix("")) + ".kto.jsonl"
    with HistoryStore() as store:
        rows = collect(store, _chat_ids(args.chats), kept_only=args.kept)
        readings = [] if args.no_readings else rated_reading_rows(ReadingStore(store))
        rows.unpaired += readings
        write_rows(rows, args.out, unpaired_out)
    console = make_console()
    console.print(f"{len(rows.pairs)} pair(s) (chosen over rejected) from {len(set(rows.chats))} chat(s)"
                  + (f" to {args.out}" if rows.pairs else "; none, so nothing written to " + args.out))
    console.print(f"{len(rows.unpaired)} rated row(s) (KTO; {len(readings)} from readings)"
                  + (f" to {unpaired_out}" if rows.unpaired else "; none, so nothing written to " + unpaired_out))
    return 0


def register(subparsers) -> None:
    history = subparsers.add_parser("history", help="stored chats, and turning them into training data")
    sub = history.add_subparsers(dest="history_command", required=True)
    chats = sub.add_parser("chats", help="list chats, or show one")
    chats.add_argument("chat_id", nargs="?", type=int, help="show this chat's messages")
    chats.add_argument("--kept", action="store_true", help="only chats kept with /save")
    chats.add_argument("--limit", type=int, help="at most this many")
    chats.set_defaults(func=history_chats_command)
    export = sub.add_parser("export-dataset", help="write chats as a `messages` JSONL for `hearth train --data`")
    export.add_argument("--chats", help="chat ids, comma-separated (default: every kept chat)")
    export.add_argument("out", help="the .jsonl file to write")
    export.set_defaults(func=export_dataset_command)
    prefs = sub.add_parser(
        "export-preferences",
        help="write what you chose, edited and rated as TRL preference pairs (OUT) and KTO rows (--kto)",
        description="Pairs (an edited reply over its original, the chosen alternative over the others) go to OUT in "
                    "TRL's preference format {prompt, chosen, rejected}; rated replies and readings (4-5 desirable, "
                    "1-2 not) go to --kto (default: OUT's name with .kto.jsonl) in TRL's KTO format "
                    "{prompt, completion, label}. Prompts render as `export-dataset` renders the same chat.")
    prefs.add_argument("out", help="the .jsonl file of pairs to write")
    prefs.add_argument("--kto", metavar="FILE", help="where the unpaired (KTO) rows go")
    prefs.add_argument("--chats", help="chat ids, comma-separated (default: every chat)")
    prefs.add_argument("--kept", action="store_true", help="only chats kept with /keep")
    prefs.add_argument("--no-readings", action="store_true", help="leave rated tarot readings out")
    prefs.set_defaults(func=export_preferences_command)
