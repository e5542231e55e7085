"""Talk to an exported model as a persona: pick the GGUF and the persona at the top, type at the bottom.

The model loads and every reply streams in thread workers that only post messages (tui/messages.py);
the screen turns those into bubbles. The session (companion.session.ChatSession) stores each turn in
the history as it completes, so what the view shows after a reply is exactly what the session holds.

Curation, as in `hearth chat`: retry keeps the earlier reply as an alternative, alt+←/→ step between
them (the one shown is the one chosen), edit and rate a reply, rate or keep the whole chat. Edit and rate
act on the last reply, or on the one alt+↑/↓ picked (marked "▸ #N"; esc, or alt+↓ past the last, goes
back to the last). Each key is one row of COMMANDS (its footer label, the action it runs); a line typed
in the prompt that starts with "/" is parsed by companion/chat_commands.py (`/rate 4`, `/rate 2 4`,
`/rate chat 5`, `/edit 2 TEXT`, `/keep TITLE`) and SLASH runs the same action for it. The session does
the work.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, NamedTuple

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, Select, Static

from companion import chat_commands
from companion.engine import CANCELLED
from hearth.errors import UserError
from tui.catalog import NO_PERSONA, chat_models, model_label, persona_choices
from tui.screens.streaming import NO_MODEL, batched
from tui.messages import ReplyChunk, ReplyDone, ReplyFailed, ReplyStarted, SessionFailed, SessionReady
from tui.widgets.conversation import ConversationView
from tui.widgets.curation_dialogs import EditReplyDialog, RatingDialog
from tui.widgets.relabel import relabel

def context_use(session) -> tuple[int, float | None]:
    """(tokens of the context the conversation fills, the last reply's tokens/s). A reply's stored stats
    say both exactly (its prompt plus what it wrote); before any reply the prompt is counted as it would go."""
    for turn in reversed(session.turns):
        if turn.stats and turn.stats.get("prompt_tokens") is not None:
            return turn.stats["prompt_tokens"] + turn.stats.get("completion_tokens", 0), turn.stats.get("tokens_per_s")
    parts = session.prompt_parts()
    if parts.history:
        return session.budget.fit(parts).prompt_tokens, None
    return (session.engine.count_prompt([{"role": "system", "content": parts.system}]) if parts.system else 0), None


def open_chat_session(engine, store, persona: str, resume: int | None, user_name: str | None):
    """A new chat with `persona` (a personas.library name; NO_PERSONA for none), or chat `resume`
    continued — with its persona's current card when that persona is still installed. The card is the
    one in the language of the model's run when the persona has it (companion.persona_choice)."""
    from companion.persona_choice import chat_persona
    from companion.session import ChatSession
    from personas.library import find_entry

    installed = persona != NO_PERSONA and find_entry(persona) is not None
    settings = engine.settings
    chosen = chat_persona(persona if installed else None, model_path=settings.model_path,
                          lora_path=settings.lora_path, user_name=user_name)
    return ChatSession.open(engine, store, chosen, resume)


class Command(NamedTuple):
    action: str  # ChatScreen.action_<action>()
    key: str
    label: str  # in the footer
    group: Binding.Group | None = None
    display: str | None = None  # how the footer writes the key, when shorter than Textual's way
    show: bool = True  # in the footer


SWIPE = Binding.Group("swipe", compact=True)
PICK = Binding.Group("pick", compact=True)
# The keys are ones the prompt (an Input) leaves free, so they work while typing. The footer shows those of
# curation, which fit in 80 columns with the app's own; undo and new chat are bound but not shown (they are
# also /undo and /new, what a chat's commands always were).
COMMANDS = [
    Command("retry", "ctrl+r", "retry"),
    Command("prev", "alt+left", "previous alternative", SWIPE),
    Command("next", "alt+right", "next alternative", SWIPE, "→"),  # "alt+←→ swipe"
    Command("pick_earlier", "alt+up", "pick an earlier reply", PICK),
    Command("pick_later", "alt+down", "pick a later reply", PICK, "↓"),  # "alt+↑↓ pick"
    Command("edit", "ctrl+o", "edit"),
    Command("rate", "ctrl+t", "rate"),
    Command("toggle_keep", "ctrl+s", "keep"),
    Command("undo", "ctrl+z", "undo", show=False),
    Command("new_chat", "ctrl+n", "new", show=False),
]
# What a slash command typed in the prompt runs: the keys' actions, with what the command says.
SLASH = {
    chat_commands.Retry: lambda screen, command: screen.action_retry(),
    chat_commands.Swipe: lambda screen, command: screen.swipe(command.step),
    chat_commands.Edit: lambda screen, command: screen.edit(command.reply, command.text),
    chat_commands.Rate: lambda screen, command: screen.rate(command),
    chat_commands.Keep: lambda screen, command: screen.keep(command.kept, command.title),
    chat_commands.Undo: lambda screen, command: screen.action_undo(),
    chat_commands.NewChat: lambda screen, command: screen.action_new_chat(),
}


class ChatScreen(Screen):
    BINDINGS = [Binding("escape", "stop_or_back", "back")] + [  # (the status line says when esc stops a reply)
        Binding(c.key, c.action, c.label, show=c.show, group=c.group, key_display=c.display) for c in COMMANDS
    ]
    # Every command needs a loaded session and no reply streaming.
    SESSION_ACTIONS = {c.action for c in COMMANDS}
    DEFAULT_CSS = """
    ChatScreen #chat-status {
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, model: Path | None = None, persona: str | None = None, resume: int | None = None):
        super().__init__()
        self._requested = (model, persona, resume)
        self.session = None
        self.cancel: threading.Event | None = None  # set while a reply streams
        self._reply_bubble = None
        self._opened: tuple | None = None  # (model, persona) of the session loaded or loading

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        from personas.library import list_personas

        self.models = chat_models()
        entries = list_personas()  # read once: the plan needs the names, the selector the labels in the model's language
        model, persona, self._resume, self._notice = self._plan(self._persona_options(None, entries))
        personas = self._persona_options(model, entries)
        yield Header()
        with Horizontal(id="chat-setup"):
            yield Label("model")
            yield Select([(model_label(m), m) for m in self.models], id="model", value=model if model else Select.NULL,
                         allow_blank=not self.models, prompt="no exported model")
            yield Label("persona")
            yield Select(personas, id="persona", value=persona, allow_blank=False)
        yield ConversationView(id="conversation")
        yield Static("", id="chat-status", markup=False)
        yield Input(placeholder="say something (enter sends)", id="prompt", disabled=not self.models)
        # compact and without the command palette's key (ctrl+p still opens it): so all the chat's keys fit in 80 columns
        yield Footer(compact=True, show_command_palette=False)

    @staticmethod
    def _persona_options(model, entries=None) -> list[tuple[str, str]]:
        """The persona choices, each named as the card in the model's run's language names its character."""
        from companion.persona_choice import model_language

        language = model_language(model) if model not in (None, Select.NULL) else None
        return persona_choices(language, entries) + [("none: a plain assistant", NO_PERSONA)]

    def _plan(self, personas: list[tuple[str, str]]):
        """(model, persona, chat to resume, a notice) from what was asked for and what is on disk."""
        from personas.library import find_entry

        model, persona, resume = self._requested
        notice = ""
        record = self._stored_chat(resume)
        if record is not None:
            stored = Path(record.model) if record.model else None
            if stored is not None and stored.is_file():
                model = stored
            elif self.models:
                notice = f"this chat's model ({stored.name if stored else 'unknown'}) is gone; continuing with another"
            entry = find_entry(record.persona) if record.persona else None
            persona = entry.name if entry is not None else NO_PERSONA
        elif resume is not None:
            notice, resume = f"cannot continue chat #{resume}, starting a new one: {self._store_problem}", None
        if model is not None and model not in self.models:  # a GGUF from outside the runs
            self.models.insert(0, model)
        names = [value for _, value in personas]
        if persona not in names:
            persona = names[0]
        if model is None and self.models:
            model = self.models[0]
        return model, persona, resume, notice

    def _stored_chat(self, chat_id: int | None):
        """The chat record to continue, or None (`_store_problem` then says why, when one was asked for)."""
        store = self.app.store
        self._store_problem = self.app.store_problem
        if chat_id is None or store is None:
            return None
        try:
            return store.chat(chat_id)
        except UserError as exc:  # deleted meanwhile (e.g. by `hearth history`)
            self._store_problem = str(exc)
            return None

    def on_mount(self) -> None:
        self.sub_title = "chat"
        model = self.query_one("#model", Select).value
        if not self.models:
            self.call_after_refresh(self._show_no_model)
            return
        self._open_session(model, self.query_one("#persona", Select).value, self._resume, self._notice)

    async def _show_no_model(self) -> None:
        await self.conversation.notice(NO_MODEL)
        self.status(NO_MODEL)

    @property
    def conversation(self) -> ConversationView:
        return self.query_one("#conversation")

    def status(self, text: str) -> None:
        self.query_one("#chat-status", Static).update(text)

    # -- opening a session ----------------------------------------------------------------------

    def _open_session(self, model: Path, persona: str, resume: int | None = None, notice: str = "") -> None:
        self._stop_reply()
        self.session = None
        self._opened = (model, persona)
        self.refresh_bindings()
        self.status(f"loading {model.name}…")
        settings = self.app.engine_settings.replace(model_path=model)
        self._load_session(self._opened, settings, resume, notice, self.app.engines, self.app.store,
                           self.app.user_name)

    @work(thread=True, exclusive=True, group="session")
    def _load_session(self, choice, settings, resume, notice, engines, store, user_name) -> None:
        try:
            session = open_chat_session(engines.get(settings), store, choice[1], resume, user_name)
        except UserError as exc:
            self.post_message(SessionFailed(choice, str(exc)))
            return
        except Exception as exc:  # e.g. llama-cpp-python missing or broken: say so, keep the app
            self.post_message(SessionFailed(choice, f"could not load the model: {type(exc).__name__}: {exc}"))
            return
        self.post_message(SessionReady(choice, session, notice))

    async def on_session_ready(self, message: SessionReady) -> None:
        if message.choice != self._opened:
            return  # the person picked something else while this one loaded
        session = message.session
        view = self.conversation
        view.speakers = {"user": session.user_name, "assistant": session.persona_name or session.engine.model_name}
        await view.remove_children()
        view.picked = None
        await view.show_turns(session.turns)
        if message.choice != self._opened:
            return  # another choice arrived while the old bubbles were being replaced
        # the session is the screen's only once its turns are on screen: nothing sees it beside the old greeting
        self.session = session
        self._show_session_status()
        self.refresh_bindings()
        if message.notice:
            self.notify(message.notice, severity="warning")
        self.query_one("#prompt", Input).focus()

    def _chat_record(self):
        """The chat as the history holds it now (kept, rating); None when not stored or deleted meanwhile."""
        try:
            return self.session.record()
        except UserError:  # deleted meanwhile (e.g. by `hearth history`)
            return None

    def _show_session_status(self) -> None:
        s = self.session
        used, speed = context_use(s)
        record = self._chat_record()
        picked = self.conversation.picked
        chat = f"chat #{s.chat_id}" if s.chat_id is not None else "not recorded"
        # What matters most first, so that at 80 columns what is cut (with an ellipsis) is only the persona
        # and the model's file name, both also in the selectors above.
        parts = [
            f"context {used}/{s.engine.n_ctx}",
            f"{speed:.1f} tok/s" if speed else "",
            chat + (" kept" if record is not None and record.kept else ""),
            f"rated {record.rating}/5" if record is not None and record.rating else "",
            f"▸ #{picked}" if picked is not None else "",  # the picked reply, marked so on its bubble too
            s.persona_name or "no persona",
            Path(str(s.engine.settings.model_path)).name,
        ]
        self.status(" · ".join(part for part in parts if part))

    async def on_session_failed(self, message: SessionFailed) -> None:
        if message.choice != self._opened:
            return
        self.status(f"could not open the chat: {message.message}")
        await self.conversation.notice(message.message)
        self.notify(message.message, severity="error", timeout=10)

    @on(Select.Changed)
    def _setup_changed(self, event: Select.Changed) -> None:
        if event.select.id == "model" and event.value != Select.NULL:
            # only the labels change: no second session opens
            relabel(self.query_one("#persona", Select), self._persona_options(event.value))
        choice = (self.query_one("#model", Select).value, self.query_one("#persona", Select).value)
        if choice == self._opened or choice[0] == Select.NULL:
            return
        self._open_session(*choice)

    # -- replies --------------------------------------------------------------------------------

    def _can_reply(self) -> bool:
        if self.session is None:
            self.notify("the model is not loaded yet", severity="warning")
            return False
        if self.cancel is not None:
            self.notify("a reply is still being written — Esc stops it", severity="warning")
            return False
        return True

    @on(Input.Submitted, "#prompt")
    async def _send(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text or not self._can_reply():
            return
        event.input.clear()
        if text.startswith("/"):
            await self._slash(text)
            return
        self._start_reply(lambda session, cancel: session.send(text, cancel=cancel))

    async def _slash(self, line: str) -> None:
        try:
            command = chat_commands.parse(line)
        except UserError as exc:
            self.notify(str(exc), severity="warning")
            return
        if command is None:
            name = line.split()[0]
            self.notify(f"unknown command {name}; the chat knows {' '.join(chat_commands.NAMES)}",
                        severity="warning")
            return
        await SLASH[type(command)](self, command)

    def _start_reply(self, start: Callable) -> None:
        self.conversation.picked = None  # talking on: edit and rate act on the newest reply again
        self.cancel = threading.Event()
        self.refresh_bindings()
        self.status("writing… (esc stops)")
        self._reply(self.session, start, self.cancel, self.app.engines)

    @work(thread=True, exclusive=True, group="reply")
    def _reply(self, session, start: Callable, cancel: threading.Event, engines) -> None:
        try:
            with engines.in_use(cancel):
                stream = start(session, cancel)
                # the turns the reply follows: on a retry, not the reply it replaces (kept as an alternative)
                self.post_message(ReplyStarted(session, list(session.turns)[: stream.after]))
                for chunk in batched(stream):
                    self.post_message(ReplyChunk(session, chunk.text, chunk.kind))
        except UserError as exc:
            self.post_message(ReplyFailed(session, str(exc), list(session.turns)))
            return
        except Exception as exc:  # llama.cpp or a bug: say so in the app and keep going
            self.post_message(ReplyFailed(session, f"the reply failed: {type(exc).__name__}: {exc}",
                                          list(session.turns)))
            return
        self.post_message(ReplyDone(session, stream.reply, list(session.turns)))

    async def on_reply_started(self, message: ReplyStarted) -> None:
        if message.session is not self.session:
            return
        await self.conversation.show_turns(message.turns)
        self._reply_bubble = await self.conversation.start_reply()

    async def on_reply_chunk(self, message: ReplyChunk) -> None:
        if message.session is self.session and self._reply_bubble is not None:
            await self._reply_bubble.add(message.text, message.kind)

    async def on_reply_done(self, message: ReplyDone) -> None:
        if message.session is not self.session:
            return
        reply = message.reply
        if self._reply_bubble is not None:
            await self._reply_bubble.finish(reply)
        await self.conversation.show_turns(message.turns)  # a reply cancelled before a word goes away
        self._reply_ended()
        if reply.finish_reason == CANCELLED and not (reply.text or reply.reasoning):
            self.notify("stopped before it said anything; ctrl+r asks again")

    async def on_reply_failed(self, message: ReplyFailed) -> None:
        if message.session is not self.session:
            return
        if self._reply_bubble is not None:
            await self._reply_bubble.remove()
        await self.conversation.show_turns(message.turns)
        self._reply_ended()
        self.notify(message.message, severity="error", timeout=10)

    def _reply_ended(self) -> None:
        self.cancel = None
        self._reply_bubble = None
        self.refresh_bindings()
        self._show_session_status()

    def _stop_reply(self) -> None:
        if self.cancel is not None:
            self.cancel.set()
        self.cancel = None
        self._reply_bubble = None

    def on_unmount(self) -> None:
        self._stop_reply()

    # -- keys -----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in self.SESSION_ACTIONS and (self.session is None or self.cancel is not None):
            return None  # shown, dimmed
        return True

    def action_stop_or_back(self) -> None:
        if self.cancel is not None:
            self.cancel.set()
            self.status("stopping…")
        elif self.conversation.picked is not None:  # first back to the last reply
            self._pick(None)
        else:
            self.app.pop_screen()

    async def action_retry(self) -> None:
        if self._can_reply():
            self._start_reply(lambda session, cancel: session.retry(cancel=cancel))

    async def action_prev(self) -> None:
        await self.swipe(-1)

    async def action_next(self) -> None:
        await self.swipe(1)

    async def swipe(self, step: int) -> None:
        await self._change(self.session.swipe, step)

    # -- the reply edit and rate act on ----------------------------------------------------------

    def action_pick_earlier(self) -> None:
        self._step_pick(-1)

    def action_pick_later(self) -> None:
        self._step_pick(1)

    def _step_pick(self, step: int) -> None:
        """Move the pick one reply up or down; past the last it is the last again (no pick)."""
        count = len(self.session.replies())
        number = (self.conversation.picked or count) + step
        if count < 2 or number < 1:
            self.notify("no earlier reply to pick" if count else "the companion has not said anything yet")
            return
        self._pick(number if number < count else None)

    def _pick(self, number: int | None) -> None:
        self.conversation.pick(number)
        self._show_session_status()

    def _keep_pick(self) -> None:
        """After a change: a pick beyond the replies there are now (undo, a new chat) is dropped."""
        picked = self.conversation.picked
        if picked is not None and picked >= len(self.session.replies()):
            self.conversation.pick(None)

    def _target(self, number: int | None) -> int | None:
        """The reply a command without a number acts on: the picked one, else the last (None)."""
        return number if number is not None else self.conversation.picked

    def _reply_name(self, number: int | None) -> str:
        last = number is None or number == len(self.session.replies())
        return "the last reply" if last else f"reply #{number}"

    async def action_edit(self) -> None:
        await self.edit(None, "")

    async def edit(self, number: int | None, text: str) -> None:
        """`/edit [N] TEXT` saves at once; the key (or /edit without text) opens the reply's text to edit."""
        number = self._target(number)
        if text:
            await self._edited(number, text)
            return
        try:
            reply = self.session.reply(number, "edit")
        except UserError as exc:
            self.notify(str(exc), severity="warning")
            return
        await self.app.push_screen(EditReplyDialog(reply.content, self._reply_name(number)),
                                   lambda text: self._edited(number, text))  # mounted before the next key

    async def _edited(self, number: int | None, text: str | None) -> None:
        name = self._reply_name(number)
        if text is not None and await self._change(self.session.edit_reply, text, number):
            self.notify(f"edited {name}; its first text is kept")

    async def action_rate(self) -> None:
        await self.rate(chat_commands.Rate())

    async def rate(self, command: chat_commands.Rate) -> None:
        """`/rate [N] R` rates a reply, `/rate chat R` the whole chat; the key (or a bare /rate) asks."""
        number = self._target(command.reply)
        if command.rating is None:
            await self.app.push_screen(RatingDialog(self._reply_name(number)),
                                       lambda answer: self._rated(number, answer))
            return
        await self._rated(number, ("chat" if command.chat else "reply", command.rating))

    async def _rated(self, number: int | None, answer: tuple[str, int] | None) -> None:
        if answer is None:
            return
        subject, rating = answer
        if subject == "chat":
            name, rated = "the whole chat", await self._change(self.session.rate_chat, rating)
        else:
            name, rated = self._reply_name(number), await self._change(self.session.rate_reply, rating, number)
        if rated:
            self.notify(f"rated {name} {rating}/5")

    async def action_toggle_keep(self) -> None:
        try:
            record = self.session.record()
        except UserError as exc:
            self.notify(str(exc), severity="warning")
            return
        await self.keep(not (record is not None and record.kept))

    async def keep(self, kept: bool, title: str = "") -> None:
        if await self._change(self.session.keep, title, kept):
            self.notify(f"chat #{self.session.chat_id} kept for training (`hearth history export-dataset`)" if kept
                        else f"chat #{self.session.chat_id} is no longer kept")

    async def action_undo(self) -> None:
        await self._change(self.session.undo)

    async def action_new_chat(self) -> None:
        await self._change(self.session.new)

    async def _change(self, change: Callable, *args) -> bool:
        """One change through the session, then the view and status as the session holds them; a refusal
        (UserError: nothing to swipe, an empty edit, a rating of 9) is said, not raised."""
        try:
            change(*args)
        except UserError as exc:
            self.notify(str(exc), severity="warning")
            return False
        self._keep_pick()
        await self.conversation.show_turns(self.session.turns)
        self._show_session_status()
        return True
