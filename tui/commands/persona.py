"""`hearth persona list|show|import|export`: the character cards hearth knows."""

from __future__ import annotations

import argparse

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from companion.persona_choice import default_user_name
from hearth.language import LANGUAGES
from personas.card import display_text, save_card
from personas.library import find_persona, import_card, list_personas
from personas.prompt import card_language, render_persona


def _console() -> Console:
    return Console(highlight=False)


def _shown(text: str, style: str = "") -> Text:
    """Card text as printed: a stranger's card may carry terminal escapes or bidi overrides."""
    return Text(display_text(text), style=style)


def list_command(args: argparse.Namespace) -> int:
    table = Table(title="personas", title_justify="left")
    for column in ("name", "character", "languages", "source", "card file"):
        table.add_column(column, overflow="fold")
    for entry in list_personas():
        character = _shown(f"unreadable: {entry.problem}", style="red") if entry.problem else _shown(entry.character)
        table.add_row(_shown(entry.name), character, ", ".join(entry.languages), entry.source, _shown(str(entry.path)))
    _console().print(table)
    return 0


def _facts(card) -> Table:
    book = card.character_book
    enabled = [entry for entry in book.entries if entry.enabled] if book else []
    prompt = render_persona(card)
    rows = (
        ("name", card.name),
        ("nickname", card.nickname or ""),
        ("spec", card.spec),
        ("language", card_language(card)),
        ("creator", card.creator),
        ("version", card.character_version),
        ("tags", ", ".join(card.tags)),
        ("greetings", f"1 + {len(card.alternate_greetings)} alternates" if card.first_mes else "none"),
        ("example dialogues", str(len(prompt.examples))),
        ("lorebook", f"{len(enabled)} of {len(book.entries)} entries enabled" if book else "none"),
        ("extensions", ", ".join(sorted(card.extensions)) or "none"),
        ("portrait", "yes" if card.image else "none (export makes a default one)"),
    )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in rows:
        if value:
            grid.add_row(label, _shown(value))
    return grid


def _section(title: str, body: str) -> Panel | None:
    return Panel(_shown(body), title=title, title_align="left") if body.strip() else None


def show_command(args: argparse.Namespace) -> int:
    card = find_persona(args.name, language=args.language)
    console = _console()
    console.print(_facts(card))
    if args.prompt:
        prompt = render_persona(card, user_name=args.user or default_user_name(card_language(card)))
        examples = "\n\n".join(
            "\n".join(f"{m['role']}: {m['content']}" for m in block) for block in prompt.examples
        )
        sections = (
            ("system", prompt.system),
            ("examples", examples),
            ("greeting", prompt.greeting),
            ("post-history instructions", prompt.post_history),
        )
    else:
        sections = (
            ("description", card.description),
            ("personality", card.personality),
            ("scenario", card.scenario),
            ("first message", card.first_mes),
            ("creator notes", card.creator_notes),
        )
    panels = [panel for panel in (_section(title, body) for title, body in sections) if panel]
    console.print(Group(*panels))
    return 0


def import_command(args: argparse.Namespace) -> int:
    entry = import_card(args.file, name=args.as_name, replace=args.replace)
    _console().print(_shown(f"imported {entry.character} as '{entry.name}' → {entry.path}"))
    return 0


def export_command(args: argparse.Namespace) -> int:
    card = find_persona(args.name, language=args.language)
    path = save_card(card, args.out, spec=args.spec)
    what = "PNG with chara (V2) and ccv3 (V3) chunks" if path.suffix.lower() == ".png" else f"{card.to_dict(args.spec)['spec']} JSON"
    _console().print(_shown(f"wrote {card.name} to {path} ({what})"))
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("persona", help="character cards: list, show, import, export")
    commands = parser.add_subparsers(dest="persona_command", metavar="ACTION", required=True)

    listing = commands.add_parser("list", help="the built-in and imported personas")
    listing.set_defaults(func=list_command)

    show = commands.add_parser("show", help="one persona's card")
    show.add_argument("name", help="persona name (linzhi, 林栀, an imported one) or a card file")
    show.add_argument("--prompt", action="store_true", help="show the prompt the model gets instead of the raw card")
    show.add_argument("--language", choices=LANGUAGES, help="the persona's card in this language, when it has one")
    show.add_argument("--user", help="the person's name for {{user}} in --prompt (default: 你, or User in English)")
    show.set_defaults(func=show_command)

    importing = commands.add_parser("import", help="check a card (.png or .json) and keep a copy")
    importing.add_argument("file", help="a Character Card V1/V2/V3, PNG or JSON")
    importing.add_argument("--as", dest="as_name", metavar="NAME", help="store it under this name (default: its name)")
    importing.add_argument("--replace", action="store_true", help="overwrite an earlier import of the same name")
    importing.set_defaults(func=import_command)

    export = commands.add_parser("export", help="write a persona as a card file (OUT.png or OUT.json)")
    export.add_argument("name", help="persona name or a card file")
    export.add_argument("out", help="where to write; .png carries both V2 and V3, .json one of them")
    export.add_argument("--spec", choices=("v2", "v3"), help="JSON shape (default: the card's own)")
    export.add_argument("--language", choices=LANGUAGES, help="the persona's card in this language, when it has one")
    export.set_defaults(func=export_command)
