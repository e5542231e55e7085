"""`hearth tarot …`: the tarot reader.

    draw            lay out a spread (seedable) and show each position's card and meaning
    read            a reading by a model: draws (or takes the cards you drew), streams the reading,
                    stores it in the history database
    spreads         the bundled spreads and your own (HEARTH_HOME/spreads/*.yaml|json), and any that did not load
    readings        list the stored readings, or show one
    rate            rate a reading 1–5, with an optional note
    export-dataset  write readings as tarot rows for `hearth train --data` (the loop closes)
    add-positions   give rows in the original format (a plain list of cards) their spread's positions
    coverage        which cards × orientations your readings (stored, or files) show, and which they never do
                    (`draw --fill-gaps` deals those first)

The reading itself (request, prompt, language, storing) is the service in spreads/reading.py that the
app's tarot screen calls too; this module parses the flags and renders with rich.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from hearth.errors import UserError
from hearth.language import LANGUAGES
from spreads.draw import DEFAULT_REVERSED_PROBABILITY, Layout, cards_given, draw_cards
from spreads.querent_history import querent_history
from spreads.reading import ANONYMOUS, ReadingRequest, reading_language, store_reading
from spreads.spread import bundled_spreads, default_spreads, find_spread, user_spreads_dir
from tui.cli_output import make_console, short_time
from tui.engine_flags import ENGINE_FLAGS, engine_settings
from tui.reply_stream import show_reply
from tui.tarot_view import ORIENTATION_STYLE, layout_rows, spread_title

# make demo's reading, in the language of the run it reads with: person, question, spread, seed.
DEMO_QUESTIONS = {
    "zh": ("Mel", "2024年我的整体运势如何？", "三张牌（过去/现在/未来）", 7),
    "en": ("Mel", "What does the coming year hold for me?", "three-card", 7),
}
# --seed seeds the draw and the sampling both, so one seed reproduces the whole reading.
READ_ENGINE_FLAGS = tuple(row for row in ENGINE_FLAGS if row[1] != "seed")


# -- laying out and reading ----------------------------------------------------------------------


def _layout(args: argparse.Namespace) -> Layout:
    spread = find_spread(args.spread)
    if getattr(args, "cards", None) is not None and not args.cards.strip():  # "" would silently draw at random
        raise UserError("--cards is empty; name the cards you drew, or leave the flag out to draw them")
    if getattr(args, "cards", None):
        return cards_given(spread, args.cards)
    return draw_cards(spread, random.Random(args.seed), args.reversed_probability)


def show_layout(console: Console, layout: Layout, language: str = "zh") -> None:
    spread = layout.spread
    table = Table(title=spread_title(spread, language), title_justify="left")
    for column in ("#", "position", "card", "meaning"):
        table.add_column(column, overflow="fold")
    for row in layout_rows(layout, language):
        table.add_row(*row)
    console.print(table)


def _model_names(label: str) -> str:
    return " + ".join(Path(part).name for part in label.split(" + ")) if label else "-"


def perform_reading(engine, store, console: Console, request: ReadingRequest, show_thinking: bool = False) -> int | None:
    """Show the cards, stream the model's reading, store it; returns the reading id (None when the
    model wrote nothing, which is not stored)."""
    show_layout(console, request.layout, request.language)
    if request.history:
        earlier = "; ".join(f"{e['date']} {e['question']}" for e in request.history)
        console.print(Text(f"the reader is told of {len(request.history)} earlier reading(s): {earlier}", style="dim"),
                      soft_wrap=True)
    console.print(Text(f"{request.person}: {request.question}", style="bold cyan"))
    messages = request.messages()
    reply = show_reply(console, request.reader, lambda cancel: engine.stream(messages, cancel=cancel),
                       show_thinking=show_thinking)
    if reply is None or not reply.text.strip():
        console.print(Text("the model wrote no reading; nothing was stored", style="yellow"))
        return None
    reading_id = store_reading(store, request, reply, engine.settings)
    console.print(Text(f"stored as reading #{reading_id}; rate it with `hearth tarot rate {reading_id} 1-5`", style="dim"))
    return reading_id


def demo_reading(gguf_path, console: Console | None = None) -> int | None:
    """`make demo`'s tarot step: one seeded three-card reading on the given GGUF, in its run's language,
    printed and stored in HEARTH_HOME/history.db. Returns the reading id."""
    from companion.engine import Engine
    from companion.readings import ReadingStore
    from companion.settings import EngineSettings

    console = console or make_console()
    # room for a whole reading: the sample readings run ~130 words (~175 tokens)
    settings = EngineSettings(model_path=Path(gguf_path), n_ctx=2048, max_reply_tokens=256)
    language = reading_language(settings)
    person, question, spread_name, seed = DEMO_QUESTIONS[language]
    layout = draw_cards(find_spread(spread_name), random.Random(seed))
    request = ReadingRequest(person, question, spread_name, layout, language)
    with Engine(settings.replace(seed=seed)) as engine, ReadingStore() as store:
        return perform_reading(engine, store, console, request, show_thinking=True)


# -- commands ------------------------------------------------------------------------------------


def _coverage(files: list[str]):
    """The coverage of the given readings files, else of the readings stored in the history."""
    from spreads.coverage import card_coverage, stored_coverage

    if files:
        return card_coverage(files), ", ".join(files)
    from companion.readings import ReadingStore

    with ReadingStore() as store:
        return stored_coverage(store), f"your stored readings ({store.path})"


def _gap_layout(args: argparse.Namespace, console: Console) -> Layout:
    from spreads.gaps import fill_gaps

    coverage, source = _coverage(args.gaps_from)
    drawn = fill_gaps(find_spread(args.spread), coverage, random.Random(args.seed), args.reversed_probability)
    filled = "、".join(card.text() for card in drawn.filled) or "none: every card and orientation has been read"
    console.print(Text(f"{drawn.gaps_left} card × orientation pair(s) never seen in {source}; "
                       f"this spread deals {len(drawn.filled)}: {filled}", style="bold"), soft_wrap=True)
    return drawn.layout


def draw_command(args: argparse.Namespace) -> int:
    console = make_console()
    layout = _gap_layout(args, console) if args.fill_gaps else _layout(args)
    show_layout(console, layout)
    console.print(Text("to read them: --cards \"" + ",".join(layout.texts()) + "\"", style="dim"), soft_wrap=True)
    return 0


def read_command(args: argparse.Namespace) -> int:
    from companion.engine import Engine
    from companion.readings import ReadingStore

    # Everything the user typed is checked before the model loads or the history is opened.
    question = args.question.strip()
    if not question:
        raise UserError("--question is empty; ask the cards something")
    if args.person is not None and not args.person.strip():
        raise UserError("--person is empty; give a name or leave the flag out")
    layout = _layout(args)
    settings = engine_settings(args)
    language = reading_language(settings, question, args.language)
    person = args.person.strip() if args.person is not None else ANONYMOUS[language]
    console = make_console()
    with ReadingStore() as store:
        history = querent_history(store, person, language) if args.history else ()
        request = ReadingRequest(person, question, args.spread, layout, language, history)
        with Engine(settings) as engine:
            reading_id = perform_reading(engine, store, console, request, show_thinking=args.show_thinking)
    return 0 if reading_id is not None else 1


def _stars(rating: int | None) -> str:
    return "★" * rating if rating else ""


def readings_command(args: argparse.Namespace) -> int:
    from companion.readings import ReadingStore
    from spreads.reading_rows import card_texts

    console = make_console()
    with ReadingStore() as store:
        if args.reading_id is not None:
            _show_reading(console, store.get(args.reading_id))
            return 0
        readings = store.list(limit=args.limit, min_rating=args.min_rating)
    if not readings:
        console.print("no readings yet; `hearth tarot read` makes one")
        return 0
    table = Table(title="readings", title_justify="left")
    for column in ("id", "when", "person", "spread", "cards", "rating", "question"):
        table.add_column(column, overflow="fold")
    for reading in readings:
        table.add_row(
            str(reading.id), short_time(reading.created), Text(reading.person), Text(reading.spread),
            Text("、".join(card_texts(reading))), _stars(reading.rating), Text(reading.question),
        )
    console.print(table)
    return 0


def _show_reading(console: Console, reading) -> None:
    from spreads.reading_rows import card_texts
    console.print(Text(f"reading #{reading.id} · {short_time(reading.created)} · {reading.spread} · "
                       f"{_model_names(reading.model)}", style="bold"))
    console.print(Text(f"{reading.person}: {reading.question}", style="bold cyan"))
    for card, text in zip(reading.cards, card_texts(reading)):
        console.print(Text(f"  {card['position']}: ") + Text(text, style=ORIENTATION_STYLE[bool(card["reversed"])]))
    if reading.reasoning:
        console.print(Text(f"(thinking) {reading.reasoning}", style="dim italic"))
    console.print(Text(reading.reading))
    stats = [f"{reading.tokens} tokens" if reading.tokens is not None else "",
             f"{reading.seconds:.1f}s" if reading.seconds is not None else "",
             f"rated {reading.rating}/5" if reading.rating else "not rated"]
    console.print(Text(" · ".join(s for s in stats if s), style="dim"))
    if reading.notes:
        console.print(Text(f"note: {reading.notes}", style="italic"))


def rate_command(args: argparse.Namespace) -> int:
    from companion.readings import ReadingStore, check_rating

    check_rating(args.rating)
    with ReadingStore() as store:
        reading = store.rate(args.reading_id, args.rating, note=args.note)
    make_console().print(f"reading #{reading.id} rated {reading.rating}/5" + (f" · note: {reading.notes}" if args.note else ""))
    return 0


def export_dataset_command(args: argparse.Namespace) -> int:
    from companion.readings import ReadingStore, check_rating
    from spreads.reading_rows import export_readings

    if args.min_rating is not None:
        check_rating(args.min_rating)
    with ReadingStore() as store:
        summary = export_readings(store, args.out, min_rating=args.min_rating)
    make_console().print(f"wrote {len(summary.written)} reading(s) to {args.out} (tarot rows: `hearth train --data {args.out}`)")
    return 0


def add_positions_command(args: argparse.Namespace) -> int:
    from spreads.reading_rows import add_positions

    count = add_positions(args.file, args.out)
    make_console().print(f"wrote {count} row(s) with their spread's positions to {args.out}")
    return 0


def spreads_command(args: argparse.Namespace) -> int:
    book = default_spreads()
    console = make_console()
    table = Table(title="spreads", title_justify="left")
    for column in ("id", "name", "cards", "positions", "from"):
        table.add_column(column, overflow="fold")
    for spread in book.spreads:
        table.add_row(spread.id, Text(f"{spread.zh} · {spread.en}"), str(len(spread)),
                      Text("、".join(p.zh for p in spread.positions)), Text(spread.source))
    console.print(table)
    console.print(Text(f"your own spreads: YAML or JSON files in {user_spreads_dir()}", style="dim"), soft_wrap=True)
    for problem in book.problems:
        console.print(Text(f"not loaded: {problem}", style="yellow"), soft_wrap=True)
    return 0


def coverage_command(args: argparse.Namespace) -> int:
    coverage, source = _coverage(args.files)
    console = make_console()
    console.print(Text(f"coverage of {source}", style="dim"), soft_wrap=True)
    seen = len(coverage.deck) - len(coverage.missing_cards())
    console.print(f"[bold]{coverage.readings}[/] readings, [bold]{coverage.draws}[/] cards drawn; "
                  f"{seen} of {len(coverage.deck)} cards seen, "
                  f"{coverage.missing_combinations()} card × orientation pairs never seen")
    table = Table(title="card coverage", title_justify="left")
    for column in ("group", "cards", "seen", "missing", "upright", "reversed"):
        table.add_column(column, justify="right" if column != "group" else "left")
    for group in coverage.by_group():
        table.add_row(group.group, str(group.cards), str(group.seen), str(group.cards - group.seen),
                      str(group.upright), str(group.reversed))
    console.print(table)
    for title, cards in (
        ("never seen", coverage.missing_cards()),
        ("never reversed", coverage.only_one_way(True)),
        ("never upright", coverage.only_one_way(False)),
    ):
        if cards:
            console.print(Text(f"{title} ({len(cards)}): ", style="bold") + Text("、".join(c.zh for c in cards)),
                          soft_wrap=True)
    for problem in coverage.problems:
        console.print(Text(f"unreadable {problem}", style="yellow"), soft_wrap=True)
    return 0


# -- registration --------------------------------------------------------------------------------


def _spread_help() -> str:
    bundled = ", ".join(f"{s.id} ({s.zh})" for s in bundled_spreads().spreads)
    return f"the spread: {bundled}, or one of your own (`hearth tarot spreads` lists them all)"


def _add_draw_flags(parser: argparse.ArgumentParser, seed_help: str) -> None:
    parser.add_argument("--spread", required=True, help=_spread_help())
    parser.add_argument("--seed", type=int, help=seed_help)
    parser.add_argument("--reversed-probability", type=float, default=DEFAULT_REVERSED_PROBABILITY,
                        help=f"chance each drawn card lands reversed (default {DEFAULT_REVERSED_PROBABILITY})")


def register(subparsers) -> None:
    tarot = subparsers.add_parser("tarot", help="the tarot reader: draws, readings, ratings, training data")
    sub = tarot.add_subparsers(dest="tarot_command", required=True)

    draw = sub.add_parser("draw", help="lay out a spread and show the cards")
    _add_draw_flags(draw, "shuffle seed (the same seed lays out the same cards)")
    draw.add_argument("--fill-gaps", action="store_true",
                      help="deal the cards and orientations your readings never show first (a practice spread)")
    draw.add_argument("--from", dest="gaps_from", action="append", default=[], metavar="FILE",
                      help="with --fill-gaps: the readings files to cover (default: your stored readings)")
    draw.set_defaults(func=draw_command)

    read = sub.add_parser("read", help="a reading by a model, streamed and stored")
    read.add_argument("--model", help="a GGUF file or a run id/folder (default: the newest exported run)")
    read.add_argument("--question", required=True, help="what the cards are asked")
    read.add_argument("--person", help="who asks (default: " + " / ".join(ANONYMOUS.values()) + ", in the reading's language)")
    read.add_argument("--cards", help="the cards you drew yourself, in position order, written any way readers write them: "
                      "\"愚人(正位), XVI rev, ten of coins (R)\"")
    _add_draw_flags(read, "seed for the draw and the model's sampling (the same seed, the same reading)")
    read.add_argument("--language", choices=LANGUAGES,
                      help="the prompt's language (default: the language of the model's run, else of the question)")
    read.add_argument("--history", action="store_true",
                      help="tell the reader about this person's earlier readings (a short block in the prompt)")
    read.add_argument("--show-thinking", action="store_true", help="show the model's <think> reasoning")
    read.add_argument("--lora", help="a GGUF LoRA adapter to apply")
    read.add_argument("--settings", help="engine settings YAML (flags override it)")
    for flag, field, kind, help_text in READ_ENGINE_FLAGS:
        read.add_argument(flag, dest=field, type=kind, help=help_text)
    read.set_defaults(func=read_command)

    sub.add_parser("spreads", help="the spreads you can draw: the bundled ones and your own").set_defaults(
        func=spreads_command)

    readings = sub.add_parser("readings", help="list stored readings, or show one")
    readings.add_argument("reading_id", nargs="?", type=int, help="show this reading in full")
    readings.add_argument("--limit", type=int, help="at most this many")
    readings.add_argument("--min-rating", type=int, help="only readings rated this or more")
    readings.set_defaults(func=readings_command)

    rate = sub.add_parser("rate", help="rate a reading 1-5")
    rate.add_argument("reading_id", type=int)
    rate.add_argument("rating", type=int, help="1 (poor) to 5 (keep for training)")
    rate.add_argument("--note", help="a note kept with the reading")
    rate.set_defaults(func=rate_command)

    export = sub.add_parser("export-dataset", help="write readings as tarot rows for `hearth train --data`")
    export.add_argument("out", help="the .jsonl file to write")
    export.add_argument("--min-rating", type=int, help="only readings rated this or more")
    export.set_defaults(func=export_dataset_command)

    positions = sub.add_parser("add-positions", help="give original-format tarot rows their spread's positions")
    positions.add_argument("file", metavar="FILE", help="a JSONL file in the tarot row format")
    positions.add_argument("--out", required=True, help="the .jsonl file to write")
    positions.set_defaults(func=add_positions_command)

    coverage = sub.add_parser("coverage", help="which cards × orientations your readings (stored, or files) show, and which never")
    coverage.add_argument("files", nargs="*", metavar="FILE",
                          help="JSONL files in the tarot row format (default: your stored readings)")
    coverage.set_defaults(func=coverage_command)
