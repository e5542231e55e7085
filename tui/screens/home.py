"""The first screen: training runs, past readings, personas and past chats, and the keys that start
everything (chat, a tarot reading, training, export)."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Header

from hearth.paths import RunPaths
from tui.catalog import run_summaries
from tui.messages import ChatChosen, PersonaChosen, ReadingChosen, RunChosen
from tui.screens.export import ExportScreen
from tui.widgets.chat_list import ChatList
from tui.widgets.persona_list import PersonaList
from tui.widgets.reading_list import ReadingList
from tui.widgets.run_list import RunList


CHATS_SHOWN = 200
READINGS_SHOWN = 200


def _opening(store, chat_id: int) -> str:
    """The person's first message in a chat: how they will recognise it."""
    return next((m.content for m in store.messages(chat_id) if m.role == "user"), "")


class HomeScreen(Screen):
    # one word each, so the compact footer holds them all (and f2, ^p) whole at 80 columns
    BINDINGS = [
        Binding("c", "chat", "chat", tooltip="talk to the highlighted run's model, as the highlighted persona"),
        Binding("a", "tarot", "tarot", tooltip="ask the cards: a reading by the highlighted run's model"),
        Binding("t", "train", "train", tooltip="train a new run (dpo/kto start from the highlighted one)"),
        Binding("e", "export", "export", tooltip="export the highlighted run to GGUF"),
        Binding("v", "eval", "eval", tooltip="the highlighted run's eval"),
        Binding("r", "refresh", "refresh"),
        Binding("q", "app.quit", "quit"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="home-top"):
            yield RunList(id="runs")
            yield ReadingList(id="readings")
        with Horizontal(id="home-bottom"):
            yield PersonaList(id="personas")
            yield ChatList(id="chats")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.sub_title = str(self.app.home_dir)
        self.action_refresh()
        self.query_one(RunList).table.focus()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        from companion.readings import ReadingStore
        from personas.library import list_personas

        self.runs = run_summaries()
        self.query_one(RunList).show_runs(self.runs)
        self.query_one(PersonaList).show_personas(list_personas())
        store = self.app.store
        chats = self.query_one(ChatList)
        records = store.chats(limit=CHATS_SHOWN) if store is not None else []
        openings = {chat.id: _opening(store, chat.id) for chat in records}
        # A chat opened and left without a word (only the greeting) has nothing to continue.
        chats.show_chats([chat for chat in records if openings[chat.id] or chat.title], openings)
        readings = self.query_one(ReadingList)
        readings.show_readings(ReadingStore(store).list(limit=READINGS_SHOWN) if store is not None else [])
        if store is None:
            for listing in (chats, readings):
                listing.query_one(".empty").update(f"history unavailable: {self.app.store_problem}")

    # -- what the keys do -----------------------------------------------------------------------

    def _highlighted_run(self) -> RunPaths | None:
        key = self.query_one(RunList).highlighted_key
        return RunPaths(Path(key)) if key else None

    def _highlighted_model(self) -> Path | None:
        """The highlighted run's preferred GGUF, if it has one (else the screens pick the newest)."""
        run = self._highlighted_run()
        models = next((s.models for s in self.runs if run is not None and s.run.root == run.root and s.models), ())
        return models[0] if models else None

    def action_chat(self) -> None:
        """Talk to the highlighted run's model (else the newest exported one), as the highlighted persona."""
        self.app.open_chat(model=self._highlighted_model(), persona=self.query_one(PersonaList).highlighted_key)

    def action_tarot(self) -> None:
        """A tarot reading by the highlighted run's model (else the newest exported one)."""
        self.app.open_tarot(model=self._highlighted_model())

    def action_train(self) -> None:
        """A new run; the highlighted one is what a dpo/kto run starts from."""
        self.app.open_train(start_from=self._highlighted_run())

    def action_export(self) -> None:
        run = self._highlighted_run()
        if run is None:
            self.notify("no run to export yet — press t to train one", severity="warning")
            return
        self.app.push_screen(ExportScreen(run))

    def action_eval(self) -> None:
        """The highlighted run's eval: base against tuned, measured, side by side."""
        run = self._highlighted_run()
        if run is None:
            self.notify("no run to evaluate yet — press t to train one", severity="warning")
            return
        self.app.open_eval(run)

    # -- rows chosen (enter or click) -----------------------------------------------------------

    @on(RunChosen)
    def _run_chosen(self, message: RunChosen) -> None:
        self.app.open_train(RunPaths(message.run_root))

    @on(PersonaChosen)
    def _persona_chosen(self, message: PersonaChosen) -> None:
        self.app.open_chat(persona=message.persona)

    @on(ReadingChosen)
    def _reading_chosen(self, message: ReadingChosen) -> None:
        self.app.open_tarot(reading=message.reading_id)

    @on(ChatChosen)
    def _chat_chosen(self, message: ChatChosen) -> None:
        self.app.open_chat(resume=message.chat_id)
