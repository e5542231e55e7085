"""`hearth chat`: a plain terminal chat, also for scripts (`echo 你好 | hearth chat …` prints one
reply). The stored conversations are `hearth history` (tui/commands/history.py).

In the chat: `/retry` a new reply (the earlier ones stay: `/prev` `/next` step between them, the one
shown is the one chosen), `/edit [N]` the companion's last reply (or its reply #N: `/history` shows the
numbers), `/rate [N] R` it (or `/rate chat R`), `/undo` take back your last message, `/new` a fresh chat,
`/persona NAME` talk to someone else, `/keep [TITLE]` (or `/save`) keep the chat for training, `/unkeep`,
`/quit`. companion/chat_commands.py parses the commands both chat front ends share; the session
(companion/session.py) does each. Ctrl-C while a reply streams stops that reply; at the prompt it ends
the chat.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from companion import chat_commands
from hearth.errors import UserError
from hearth.language import LANGUAGES
from tui.cli_output import make_console
from tui.curation_marks import curation_marks
from tui.engine_flags import ENGINE_FLAGS, engine_settings
from tui.reply_stream import STYLES, show_reply

# `make demo`'s two messages, in the language of the persona's card.
DEMO_TURNS = {
    "zh": ("今天下雨了，我在你店里躲一会儿。", "你最喜欢店里的哪盆植物？"),
    "en": ("It's pouring outside. Mind if I hide in your shop for a bit?", "Which plant in the shop is your favourite?"),
}


# -- building a session --------------------------------------------------------------------------


def _chat_persona(name: str | None, settings, user_name: str | None, language: str | None = None):
    """The persona's card (None: no persona) in the language asked for, else in the language of the run
    behind the model."""
    from companion.persona_choice import chat_persona

    return chat_persona(name, model_path=settings.model_path, lora_path=settings.lora_path, language=language,
                        user_name=user_name)


def open_session(args: argparse.Namespace, console: Console):
    from companion.engine import Engine
    from companion.history import HistoryStore
    from companion.session import ChatSession

    store = HistoryStore()
    record = store.chat(args.resume) if args.resume is not None else None
    settings = engine_settings(args, stored=record.settings if record else None)
    wanted = args.persona or (record.persona if record else None) or None
    language = getattr(args, "language", None)
    try:
        chosen = _chat_persona(wanted, settings, args.user, language)
    except UserError:
        if args.persona or record is None:
            raise
        console.print(f"[dim]persona '{wanted}' is not installed any more; using the chat's stored prompt[/]")
        chosen = _chat_persona(None, settings, args.user, language)
    return ChatSession.open(Engine(settings), store, chosen, resume=record.id if record is not None else None)


# -- showing a reply -----------------------------------------------------------------------------


# -- the terminal chat ---------------------------------------------------------------------------


@dataclass
class ChatRepl:
    session: object  # companion.session.ChatSession
    console: Console
    read_line: Callable[[str], str]
    show_thinking: bool = True

    HELP = (
        "/retry  another reply to your last message (the earlier ones stay as alternatives)\n"
        "/prev /next (or /swipe [prev])  show the previous or next alternative; the one shown is chosen\n"
        "/edit [N] [TEXT]  change the companion's last reply, or its reply #N (asks for the text when none is given)\n"
        "/rate [N] R   rate the last reply (or reply #N) 1-5; /rate chat R rates the whole chat\n"
        "/history      the chat so far, the companion's replies numbered #1, #2, … as /edit and /rate take them\n"
        "/undo   take back your last message and its reply\n"
        "/new    start a fresh chat\n"
        "/persona [NAME]  talk to another persona (a new chat)\n"
        "/keep [TITLE] (or /save)  keep this chat for training (hearth history export-dataset); /unkeep\n"
        "/quit   leave (Ctrl-D works too)"
    )

    @property
    def speaker(self) -> str:
        return self.session.persona_name or "assistant"

    def run(self) -> int:
        self.banner()
        while True:
            try:
                line = self.read_line(f"{self.session.user_name} › ")
            except (EOFError, KeyboardInterrupt):
                self.console.print()
                return 0
            line = line.strip()
            if not line:
                continue
            try:
                if line.startswith("/"):
                    if self.command(line) == "quit":
                        return 0
                else:
                    self.reply(lambda cancel: self.session.send(line, cancel=cancel))
            except UserError as exc:
                self.console.print(f"[red]{exc}[/]")

    def banner(self) -> None:
        s = self.session
        settings = s.engine.settings
        self.console.print(
            Text(
                f"chat #{s.chat_id} · {Path(str(settings.model_path)).name} · {self.speaker} · "
                f"{s.engine.n_ctx}-token context · /help for commands",
                style="dim",
            )
        )
        self.show_turns(s.turns[-6:])

    def show_turns(self, turns) -> None:
        for turn in turns:
            who = self.session.user_name if turn.role == "user" else self.speaker
            style = "bold cyan" if turn.role == "user" else "bold magenta"
            if turn.reasoning and self.show_thinking:
                self.console.print(Text(f"{who} › ", style=style) + Text(turn.reasoning, style=STYLES["reasoning"]))
                self.console.print(Text(turn.content))
            else:
                self.console.print(Text(f"{who} › ", style=style) + Text(turn.content))

    def reply(self, make_stream: Callable) -> None:
        show_reply(self.console, self.speaker, make_stream, show_thinking=self.show_thinking)

    def command(self, line: str) -> str | None:
        command = chat_commands.parse(line)
        if command is not None:
            return self.SESSION_COMMANDS[type(command)](self, command)
        name, _, rest = line.partition(" ")
        handler = self.COMMANDS.get(name.lower())
        if handler is None:
            self.console.print(f"unknown command {name}; /help lists them")
            return None
        return handler(self, rest.strip())

    def _retry(self, _command) -> None:
        self.reply(lambda cancel: self.session.retry(cancel=cancel))
        self._show_alternative_count(self.session.turns[-1])

    def _show_alternative_count(self, turn) -> None:
        if len(turn.alternatives) > 1:
            self.console.print(Text(f"reply {turn.chosen + 1} of {len(turn.alternatives)} · /prev /next", style="dim"))

    def _swipe(self, command: chat_commands.Swipe) -> None:
        turn = self.session.swipe(command.step)
        self.show_turns([turn])
        self._show_alternative_count(turn)

    @staticmethod
    def _reply_name(number: int | None) -> str:
        return "the last reply" if number is None else f"reply #{number}"

    def _edit(self, command: chat_commands.Edit) -> None:
        self.session.reply(command.reply, "edit")  # a reply that is not there is refused before asking for text
        text = command.text or self.read_line("new text › ")
        turn = self.session.edit_reply(text, command.reply)
        self.console.print(Text(f"edited {self._reply_name(command.reply)}; the first text is kept", style="dim"))
        self.show_turns([turn])

    def _rate(self, command: chat_commands.Rate) -> None:
        if command.rating is None:
            raise UserError(chat_commands.RATE_USAGE)
        if command.chat:
            self.session.rate_chat(command.rating)
            self.console.print(Text(f"rated chat #{self.session.chat_id} {command.rating}/5", style="dim"))
        else:
            self.session.rate_reply(command.rating, command.reply)
            self.console.print(Text(f"rated {self._reply_name(command.reply)} {command.rating}/5", style="dim"))

    def _keep(self, command: chat_commands.Keep) -> None:
        self.session.keep(command.title, command.kept)
        if command.kept:
            self.console.print(
                Text(f"kept chat #{self.session.chat_id} for training (`hearth history export-dataset`)", style="dim")
            )
        else:
            self.console.print(Text(f"chat #{self.session.chat_id} is no longer kept", style="dim"))

    def _undo(self, _command) -> None:
        removed = self.session.undo()
        self.console.print(Text(f"took back {removed} message(s)", style="dim"))

    def _new(self, _command) -> None:
        self.session.new()
        self.console.print(Text(f"new chat #{self.session.chat_id}", style="dim"))
        self.show_turns(self.session.turns)

    def _history(self, _rest: str) -> None:
        """The chat so far, a line a message, the companion's replies numbered as /edit N and /rate N R take them."""
        number = 0
        for turn in self.session.turns:
            mine = turn.role == "assistant"
            number += mine
            who = self.speaker if mine else self.session.user_name
            line = Text(f"#{number:<3}" if mine else "    ", style="dim")
            line += Text(f"{who} › ", style="bold magenta" if mine else "bold cyan")
            line += Text(" ".join(turn.content.split()))
            marks = curation_marks(turn)
            if marks:
                line += Text(f"  [{marks}]", style="dim")
            self.console.print(line, no_wrap=True, overflow="ellipsis")

    def _persona(self, rest: str) -> None:
        if not rest:
            self.console.print(f"talking to {self.speaker}; /persona NAME switches")
            return
        chosen = _chat_persona(rest, self.session.engine.settings, self.session.user_name)
        self.session.set_persona(chosen.prompt, chosen.name)
        self.console.print(Text(f"new chat #{self.session.chat_id} with {chosen.name}", style="dim"))
        self.show_turns(self.session.turns)

    def _help(self, _rest: str) -> None:
        self.console.print(self.HELP)

    def _quit(self, _rest: str) -> str:
        return "quit"

    # the commands both chat front ends share, as companion/chat_commands.py types them
    SESSION_COMMANDS = {
        chat_commands.Retry: _retry,
        chat_commands.Swipe: _swipe,
        chat_commands.Edit: _edit,
        chat_commands.Rate: _rate,
        chat_commands.Keep: _keep,
        chat_commands.Undo: _undo,
        chat_commands.NewChat: _new,
    }
    # this terminal's own
    COMMANDS = {
        "/persona": _persona,
        "/history": _history,
        "/help": _help,
        "/quit": _quit,
        "/exit": _quit,
    }


def _stdin_is_interactive() -> bool:
    return sys.stdin.isatty()


def chat_command(args: argparse.Namespace) -> int:
    console = make_console()
    if not _stdin_is_interactive():
        return piped_chat(args)
    session = open_session(args, console)
    repl = ChatRepl(session, console, read_line=lambda prompt: console.input(f"[bold cyan]{escape(prompt)}[/]"),
                    show_thinking=not args.hide_thinking)
    return repl.run()


def piped_chat(args: argparse.Namespace) -> int:
    """One message from stdin, one reply on stdout (the answer only), then exit."""
    text = sys.stdin.read().strip()
    if not text:
        raise UserError("nothing to say: stdin was empty (try `echo 你好 | hearth chat …`)")
    session = open_session(args, make_console(stderr=True))
    stream = session.send(text)
    for chunk in stream:
        if chunk.kind == "answer":
            sys.stdout.write(chunk.text)
            sys.stdout.flush()
    sys.stdout.write("\n")
    sys.stdout.flush()
    return 0


def demo_chat(model_path, console: Console | None = None, turns=None, persona: str = "linzhi") -> int:
    """`make demo`'s chat: 林栀 greets (in the language of the model's run), two scripted messages
    (`turns`, default: DEMO_TURNS in that language) get streamed replies, all of it is printed and
    stored in HEARTH_HOME/history.db. Returns the chat id."""
    from companion.engine import Engine
    from companion.history import HistoryStore
    from companion.session import ChatSession, Turn
    from companion.settings import EngineSettings

    console = console or make_console()
    settings = EngineSettings(model_path=Path(model_path), n_ctx=2048, max_reply_tokens=96, seed=7)
    chosen = _chat_persona(persona, settings, None)
    turns = turns if turns is not None else DEMO_TURNS[chosen.language]
    with Engine(settings) as engine, HistoryStore() as store:
        session = ChatSession.open(engine, store, chosen)
        repl = ChatRepl(session, console, read_line=input)
        repl.show_turns(session.turns)
        for text in turns:
            repl.show_turns([Turn("user", text)])
            repl.reply(lambda cancel, text=text: session.send(text, cancel=cancel))
        session.keep("make demo")
        console.print(Text(f"stored as chat #{session.chat_id} in {store.path}", style="dim"))
        return session.chat_id


# -- registration --------------------------------------------------------------------------------


def register(subparsers) -> None:
    chat = subparsers.add_parser("chat", help="talk to a model (reads one message from a pipe)")
    chat.add_argument("--model", help="a GGUF file or a run id/folder (default: the newest exported run)")
    chat.add_argument("--persona", help="a persona name (linzhi / 林栀) or a card file")
    chat.add_argument("--lora", help="a GGUF LoRA adapter to apply")
    chat.add_argument("--resume", type=int, metavar="CHAT_ID", help="continue a stored chat")
    chat.add_argument("--settings", metavar="YAML", help="engine settings file (flags override it)")
    chat.add_argument("--language", choices=LANGUAGES,
                      help="the persona's card in this language (default: the language of the model's run)")
    chat.add_argument("--user", help="your name in the persona's prompt (default: 你, or User with an English card)")
    chat.add_argument("--hide-thinking", action="store_true", help="do not show <think> reasoning")
    for flag, field, kind, help_text in ENGINE_FLAGS:
        chat.add_argument(flag, dest=field, type=kind, metavar="N" if kind is int else "X", help=help_text)
    chat.set_defaults(func=chat_command)
