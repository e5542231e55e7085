"""The tarot screen on a real tiny GGUF: a question draws the chosen spread, the model's reading
streams in, the reading is stored with exactly the cards shown, and the number keys rate it."""

from __future__ import annotations

from tui_helpers import make_run, wait_for

from companion.history import HistoryStore
from companion.readings import ReadingStore
from companion.settings import EngineSettings
from hearth.paths import history_db
from tui.app import HearthApp
from tui.screens.home import HomeScreen
from tui.screens.tarot import TarotScreen
from tui.widgets.card_table import CardTable

RUN = "tiny-offline-20250101-000000"


async def _ask(pilot, screen: TarotScreen, question: str) -> None:
    screen.query_one("#question").value = question
    await pilot.press("enter")
    await wait_for(pilot, lambda: screen.cancel is None and screen.reading_id is not None, what="the reading")


async def test_a_question_draws_the_spread_reads_it_stores_it_and_rates_it(tiny_gguf):
    make_run(RUN, gguf=tiny_gguf)
    app = HearthApp(engine_settings=EngineSettings(n_ctx=2048, n_threads=2, seed=1, max_reply_tokens=12))
    async with app.run_test(size=(110, 36)) as pilot:
        await pilot.press("a")
        screen = app.screen
        assert isinstance(screen, TarotScreen)
        assert screen.rate_blocked()  # nothing to rate before a reading
        screen.query_one("#spread").value = "single"
        screen.query_one("#person").value = "Mel"
        await _ask(pilot, screen, "这周适合开始新计划吗？")
        table = screen.query_one(CardTable)
        assert table.display and table.row_count == 1  # the single-card spread
        shown_card = str(table.get_row_at(0)[2])
        bubbles = screen.reading_view.bubbles
        assert [b.role for b in bubbles] == ["user", "assistant"] and bubbles[0].content == "这周适合开始新计划吗？"
        assert bubbles[1].content and bubbles[1].stats["completion_tokens"] > 0
        assert screen.query_one("#question").value == ""  # ready for the next question
        await pilot.press("4")
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)

    with ReadingStore(HistoryStore(history_db())) as store:
        (reading,) = store.list()
    assert (reading.person, reading.question, reading.spread) == ("Mel", "这周适合开始新计划吗？", "单张牌")
    assert reading.reading == bubbles[1].content and reading.rating == 4
    card = reading.cards[0]
    assert shown_card.startswith(f"{card['card']}({'逆位' if card['reversed'] else '正位'})")
    assert reading.model.endswith(f"{RUN}-f16.gguf")


async def test_without_an_exported_model_the_screen_says_what_to_do():
    app = HearthApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("a")
        screen = app.screen
        assert isinstance(screen, TarotScreen)
        assert "no exported model yet" in str(screen.query_one("#tarot-status").render())
        assert screen.query_one("#question").disabled
