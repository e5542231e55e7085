"""`hearth tui`: the Textual app. Home lists runs, readings, personas and chats; chat talks to an exported model;
tarot draws a spread and has a model read it; train trains (sft, or dpo / kto from a trained run), resumes and
merges a run; export writes a run's GGUFs and shows how faithful each is; eval shows a run's eval. Screens live in
tui/screens, widgets in tui/widgets, every custom message in tui/messages.py, and the look in the one stylesheet
tui/hearth.tcss. Every screen's footer shows its keys whole at 80 columns (compact, short labels).
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from hearth.errors import UserError
from hearth.paths import RunPaths, hearth_home, history_db
from tui.engines import EngineHolder
from tui.screens.chat import ChatScreen
from tui.screens.eval import EvalScreen
from tui.screens.home import HomeScreen
from tui.screens.tarot import TarotScreen
from tui.screens.train import TrainScreen
from tui.ui_settings import save_theme, saved_theme

DEFAULT_THEME = "textual-dark"


class HearthApp(App):
    TITLE = "hearth"
    CSS_PATH = "hearth.tcss"
    SCREENS = {"home": HomeScreen}
    BINDINGS = [
        Binding("ctrl+q", "quit", "quit", show=False, priority=True),
        Binding("f2", "toggle_theme", "theme", tooltip="light and dark in turn"),  # short: every footer has it
    ]
    # Below 120 columns the screens carry "-narrow" (hearth.tcss then folds the setup rows so selectors show
    # their whole value), from 120 on "-wide".
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    # The two themes the stylesheet is checked in (every colour in hearth.tcss is a theme variable).
    THEMES = {"textual-dark": "textual-light", "textual-light": "textual-dark"}

    def __init__(self, engine_settings=None, user_name: str | None = None, driver_class=None):
        """`engine_settings` (companion.settings.EngineSettings) are the sampling and context settings
        every chat starts from; the model path is filled in by the chat screen."""
        super().__init__(driver_class=driver_class)
        from companion.settings import EngineSettings

        self.engine_settings = engine_settings or EngineSettings()
        self.user_name = user_name  # None: 你 or User by the persona card's language (companion.persona_choice)
        self.engines = EngineHolder()
        self.home_dir = hearth_home()
        self._store = None
        self.store_problem = ""

    @property
    def store(self):
        """The chat history (companion.history.HistoryStore), opened on first use; None when the file
        cannot be used (the reason is in `store_problem`, and chats then go unrecorded)."""
        if self._store is None and not self.store_problem:
            from companion.history import HistoryStore

            try:
                self._store = HistoryStore(history_db())
            except UserError as exc:
                self.store_problem = str(exc)
        return self._store

    def on_mount(self) -> None:
        # The theme chosen last time (HEARTH_HOME/tui.json); any later change is kept for the next launch.
        self.theme = saved_theme(self.available_themes, DEFAULT_THEME)
        self.theme_changed_signal.subscribe(self, self._keep_theme)
        self.push_screen("home")

    def _keep_theme(self, theme) -> None:
        try:
            save_theme(theme.name)
        except (UserError, OSError) as exc:  # a read-only HEARTH_HOME: the theme still switches, just not kept
            self.notify(f"the theme will not be remembered: {exc}", severity="warning", markup=False)

    def action_toggle_theme(self) -> None:
        """Dark and light in turn (a theme picked in the command palette switches back to dark)."""
        self.theme = self.THEMES.get(self.theme, DEFAULT_THEME)

    def open_chat(self, model: Path | None = None, persona: str | None = None, resume: int | None = None) -> None:
        self.push_screen(ChatScreen(model=model, persona=persona, resume=resume))

    def open_tarot(self, model: Path | None = None, reading: int | None = None) -> None:
        self.push_screen(TarotScreen(model=model, reading=reading))

    def open_train(self, run: RunPaths | None = None, start_from: RunPaths | None = None) -> None:
        self.push_screen(TrainScreen(run, start_from=start_from))

    def open_eval(self, run: RunPaths) -> None:
        self.push_screen(EvalScreen(run))

    def on_unmount(self) -> None:
        self.engines.close()  # waits for a reply still streaming to notice its cancel
        if self._store is not None:
            self._store.close()
