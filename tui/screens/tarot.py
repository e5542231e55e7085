"""Ask the cards: pick the model and the spread, type a question (and, if you drew physical cards, the
cards, written any way readers write them); the cards are laid out in the spread's positions, the model
reads them (streaming), and the reading is stored with its cards. Keys 1–5 rate it, for training later;
ctrl+t swaps the laid-out spread for a table of the cards' meanings; the history switch tells the reader
about this person's earlier readings.
Opened on a stored reading (from the home screen's list), it shows that reading to look at or rate.

The reading is spreads/reading.py's service, the same one `hearth tarot read` uses: its prompt is the
training rows' own, in the language of the model's run, so a reading in the app reads like the data the
model learned from. The model loads and
the reading streams in one thread worker that only posts messages (tui/messages.py).
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Checkbox, Footer, Header, Input, Label, Select, Static

from hearth.errors import UserError
from spreads.draw import cards_given, draw_cards
from spreads.querent_history import querent_history
from spreads.spread import default_spreads
from tui.catalog import chat_models, model_label
from spreads.reading import ANONYMOUS, READER, ReadingRequest, reading_language, store_reading
from spreads.reading_rows import stored_language, stored_layout
from tui.messages import ReadingDone, ReadingFailed, ReplyChunk
from tui.screens.streaming import NO_MODEL, batched
from tui.widgets.card_table import CardTable
from tui.widgets.conversation import ConversationView
from tui.widgets.message_bubble import MessageBubble
from tui.widgets.relabel import relabel
from tui.widgets.spread_view import SpreadView

DEFAULT_SPREAD = "three-card"
RATE_KEYS = "12345"


class TarotScreen(Screen):
    BINDINGS = [
        Binding("escape", "stop_or_back", "stop/back"),
        Binding("ctrl+n", "new_question", "new question"),
        Binding("ctrl+t", "toggle_cards", "spread/meanings"),
        *(Binding(key, f"rate({key})", "rate 1–5", show=key == RATE_KEYS[0]) for key in RATE_KEYS),
    ]

    def __init__(self, model: Path | None = None, reading: int | None = None):
        super().__init__()
        self._requested_model = model
        self._stored = reading  # a stored reading to show first
        self.request: ReadingRequest | None = None  # the reading on screen
        self.reading_id: int | None = None  # its id in the history, once stored
        self.cancel: threading.Event | None = None  # set while a reading streams
        self._bubble: MessageBubble | None = None

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        models = chat_models()
        if self._requested_model is not None and self._requested_model not in models:
            models.insert(0, self._requested_model)
        model = self._requested_model or (models[0] if models else None)
        spreads = default_spreads().spreads
        language = self._model_language(model)
        yield Header()
        with Horizontal(id="tarot-setup"):
            yield Label("model")
            yield Select([(model_label(m), m) for m in models], id="model", value=model if model else Select.NULL,
                         allow_blank=not models, prompt="no exported model")
            yield Label("spread")
            yield Select(self._spread_options(language), id="spread", allow_blank=False,
                         value=DEFAULT_SPREAD if any(s.id == DEFAULT_SPREAD for s in spreads) else spreads[0].id)
            yield Label("for")
            yield Input(ANONYMOUS[language], id="person")
            yield Checkbox("history", id="history", tooltip="tell the reader about this person's earlier readings")
        yield SpreadView(id="spread-view")
        yield CardTable(id="cards")
        yield ConversationView(id="reading")
        yield Static("", id="tarot-status", markup=False)
        with Horizontal(id="tarot-ask"):
            yield Input(placeholder="ask the cards a question (enter draws and reads)", id="question",
                        disabled=not models)
            yield Input(placeholder="your own cards, if you drew them: XVI rev, ten of coins…", id="typed-cards",
                        disabled=not models)
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        self.sub_title = "tarot"
        self.query_one(CardTable).display = False
        self.query_one(SpreadView).display = False
        if self._stored is not None and await self._show_stored(self._stored):
            return
        if self.query_one("#model", Select).value == Select.NULL:
            self.status(NO_MODEL)
        else:
            self.status("type a question and press enter: the cards are drawn and read")
            self.query_one("#question", Input).focus()

    async def _show_stored(self, reading_id: int) -> bool:
        """Show a stored reading as it was given; False (with a notice) when it cannot be read."""
        from companion.readings import ReadingStore

        store = self.app.store
        try:
            if store is None:
                raise UserError(f"history unavailable: {self.app.store_problem}")
            reading = ReadingStore(store).get(reading_id)
        except UserError as exc:
            self.notify(str(exc), severity="warning")
            return False
        self.reading_id = reading.id
        layout = stored_layout(reading)
        if layout is not None:
            self._show_cards(layout, stored_language(reading))
            self.query_one("#spread", Select).value = layout.spread.id  # asking again draws the same spread
        else:  # its spread or a card is named in a way the books no longer know: the cards as stored
            cards = self.query_one(CardTable)
            cards.show_stored(reading)
            cards.display, self.query_one(SpreadView).display = True, False
        view = self.reading_view
        reader = READER[stored_language(reading)]
        view.speakers = {"user": reading.person, "assistant": reader}
        await view.remove_children()
        await view.mount_all([MessageBubble("user", reading.person, reading.question),
                              MessageBubble("assistant", reader, reading.reading, reading.reasoning)])
        self.refresh_bindings()
        stars = f"rated {'★' * reading.rating}" if reading.rating else "not rated yet"
        self.status(f"reading #{reading.id} · {stars} · 1–5 rates it · ctrl+n asks a new question")
        self.reading_view.focus()
        return True

    def _show_cards(self, layout, language: str) -> None:
        """The cards laid out in the spread (the meanings table filled too, for ctrl+t)."""
        self.query_one(SpreadView).show_layout(layout, language)
        self.query_one(CardTable).show_layout(layout, language)
        self.query_one(SpreadView).display, self.query_one(CardTable).display = True, False

    @property
    def reading_view(self) -> ConversationView:
        return self.query_one("#reading", ConversationView)

    def _model_language(self, model) -> str:
        """The language readings on this model are given in: its run's (spreads.reading.reading_language)."""
        if model is None or model == Select.NULL:
            return "zh"
        return reading_language(self.app.engine_settings.replace(model_path=model))

    @staticmethod
    def _spread_options(language: str) -> list[tuple[str, str]]:
        return [(f"{s.name(language)} · {len(s)}", s.id) for s in default_spreads().spreads]

    @on(Select.Changed, "#model")
    def _model_changed(self, event: Select.Changed) -> None:
        """Another model may read in another language: the spread names and the default asker follow it."""
        language = self._model_language(event.value)
        relabel(self.query_one("#spread", Select), self._spread_options(language))
        person = self.query_one("#person", Input)
        if person.value.strip() in ANONYMOUS.values():  # a name the person typed is kept
            person.value = ANONYMOUS[language]

    def status(self, text: str) -> None:
        self.query_one("#tarot-status", Static).update(text)

    # -- a reading ------------------------------------------------------------------------------

    @on(Input.Submitted, "#question")
    async def _ask(self, event: Input.Submitted) -> None:
        question = event.value.strip()
        person = self.query_one("#person", Input).value.strip()
        if not question:
            return
        if self.cancel is not None:
            self.notify("a reading is still being written — Esc stops it", severity="warning")
            return
        spread = default_spreads().find(self.query_one("#spread", Select).value)
        model = self.query_one("#model", Select).value
        settings = self.app.engine_settings.replace(model_path=model)
        language = reading_language(settings, question)
        person = person or ANONYMOUS[language]
        typed = self.query_one("#typed-cards", Input).value.strip()
        try:
            layout = cards_given(spread, typed) if typed else draw_cards(spread, random.Random())
        except UserError as exc:  # a card the parser cannot read, or too few/many: say so, keep what was typed
            self.status(str(exc))
            self.notify(str(exc), severity="warning", timeout=8)
            return
        event.input.clear()
        self.query_one("#typed-cards", Input).clear()
        history = ()
        if self.query_one("#history", Checkbox).value and self.app.store is not None:
            from companion.readings import ReadingStore

            history = querent_history(ReadingStore(self.app.store), person, language)
        self.request = request = ReadingRequest(person, question, spread.name(language), layout, language, history)
        self.reading_id = None
        self._show_cards(layout, language)
        view = self.reading_view
        view.speakers = {"user": person, "assistant": request.reader}
        await view.remove_children()
        await view.mount(MessageBubble("user", person, question))
        self._bubble = await view.start_reply()
        self.cancel = threading.Event()
        self.refresh_bindings()
        self.status(f"reading with {Path(str(model)).name}… (esc stops)")
        self._read(request, settings, self.cancel, self.app.engines)

    @work(thread=True, exclusive=True, group="reading")
    def _read(self, request: ReadingRequest, settings, cancel: threading.Event, engines) -> None:
        try:
            engine = engines.get(settings)
            with engines.in_use(cancel):
                stream = engine.stream(request.messages(), cancel=cancel)
                for chunk in batched(stream):
                    self.post_message(ReplyChunk(request, chunk.text, chunk.kind))
        except UserError as exc:
            self.post_message(ReadingFailed(request, str(exc)))
            return
        except Exception as exc:  # llama.cpp or a bug: say so in the app and keep going
            self.post_message(ReadingFailed(request, f"the reading failed: {type(exc).__name__}: {exc}"))
            return
        self.post_message(ReadingDone(request, stream.reply, settings))

    async def on_reply_chunk(self, message: ReplyChunk) -> None:
        if message.session is self.request and self._bubble is not None:
            await self._bubble.add(message.text, message.kind)

    async def on_reading_done(self, message: ReadingDone) -> None:
        if message.request is not self.request:
            return
        reply = message.reply
        if self._bubble is not None:
            await self._bubble.finish(reply)
        self._reading_ended()
        if not reply.text.strip():
            self.status("the model wrote no reading; nothing was stored (enter asks again)")
            return
        store = self.app.store
        if store is None:
            self.status(f"not recorded: {self.app.store_problem}")
            return
        from companion.readings import ReadingStore

        self.reading_id = store_reading(ReadingStore(store), self.request, reply, message.settings)
        self.status(f"stored as reading #{self.reading_id} · 1–5 rates it · ctrl+n asks a new question")
        self.query_one("#reading").focus()  # so the number keys rate instead of typing

    async def on_reading_failed(self, message: ReadingFailed) -> None:
        if message.request is not self.request:
            return
        if self._bubble is not None:
            await self._bubble.remove()
        self._reading_ended()
        self.status(message.message)
        self.notify(message.message, severity="error", timeout=10)

    def _reading_ended(self) -> None:
        self.cancel = None
        self._bubble = None
        self.refresh_bindings()

    def on_unmount(self) -> None:
        if self.cancel is not None:
            self.cancel.set()

    # -- keys -----------------------------------------------------------------------------------

    def rate_blocked(self) -> bool:
        return self.reading_id is None or self.cancel is not None

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "rate" and self.rate_blocked():
            return None  # shown, dimmed: nothing to rate yet
        return True

    def action_stop_or_back(self) -> None:
        if self.cancel is not None:
            self.cancel.set()
            self.status("stopping…")
        else:
            self.app.pop_screen()

    def action_toggle_cards(self) -> None:
        spread, table = self.query_one(SpreadView), self.query_one(CardTable)
        if spread.layout_shown is not None:
            spread.display, table.display = not spread.display, spread.display

    def action_new_question(self) -> None:
        question = self.query_one("#question", Input)
        question.clear()
        question.focus()

    def action_rate(self, rating: int) -> None:
        from companion.readings import ReadingStore

        ReadingStore(self.app.store).rate(self.reading_id, rating)
        self.status(f"reading #{self.reading_id} rated {'★' * rating} · rated readings become training rows "
                    "with `hearth tarot export-dataset`")
