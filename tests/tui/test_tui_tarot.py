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
from tui.widgets.spread_view import SpreadView

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
        assert screen.query_one(SpreadView).display and not table.display  # laid out; ctrl+t shows the meanings
        assert table.row_count == 1  # the single-card spread
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


def _store_reading(spread: str, cards: list[tuple[str, str, bool]]) -> int:
    with ReadingStore(HistoryStore(history_db())) as store:
        return store.add(person="Mel", question="换工作好吗？", spread=spread, reading="时机未到，先蓄力。",
                         cards=[{"position": p, "card": c, "reversed": r} for p, c, r in cards])


async def test_a_stored_reading_opens_from_home_with_its_cards_and_takes_a_rating():
    from tui.widgets.reading_list import ReadingList

    reading_id = _store_reading("三张牌", [("过去", "愚人", False), ("现在", "力量", True), ("未来", "星星", False)])
    odd_id = _store_reading("我自己的牌阵", [("唯一", "月亮", True)])  # a spread the bundled book does not know
    app = HearthApp()
    async with app.run_test(size=(110, 36)) as pilot:
        await pilot.pause()
        listing = app.screen.query_one(ReadingList)
        rows = [[str(cell) for cell in listing.table.get_row_at(i)] for i in range(listing.table.row_count)]
        assert [row[0] for row in rows] == [str(odd_id), str(reading_id)]  # newest first
        assert rows[1][1] == "换工作好吗？" and rows[1][2] == ""  # not rated yet
        listing.table.focus()
        await pilot.press("down", "enter")
        screen = app.screen
        assert isinstance(screen, TarotScreen) and screen.reading_id == reading_id
        assert screen.query_one(SpreadView).display
        await pilot.press("ctrl+t")
        table = screen.query_one(CardTable)
        assert table.display and not screen.query_one(SpreadView).display
        cards = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert [row[2].split(" ")[0] for row in cards] == ["愚人(正位)", "力量(逆位)", "星星(正位)"]
        assert all(row[3] for row in cards)  # meanings from the deck
        assert [b.content for b in screen.reading_view.bubbles] == ["换工作好吗？", "时机未到，先蓄力。"]
        await pilot.press("2")
        await pilot.press("escape")
        await pilot.pause()
        assert str(app.screen.query_one(ReadingList).table.get_row_at(1)[2]) == "★★"

        app.open_tarot(reading=odd_id)
        await pilot.pause()
        table = app.screen.query_one(CardTable)
        assert str(table.get_row_at(0)[2]) == "月亮(逆位)" and table.border_title == "我自己的牌阵"
        assert table.display and not app.screen.query_one(SpreadView).display  # no layout for an unknown spread
    with ReadingStore(HistoryStore(history_db())) as store:
        assert store.get(reading_id).rating == 2


def _screen_lines(screen) -> list[str]:
    """The screen as painted, one string per terminal line (what a user sees, colours aside)."""
    return ["".join(segment.text for segment in strip) for strip in screen._compositor.render_strips()]  # noqa: SLF001


async def test_the_spread_is_laid_out_in_its_positions_at_80x24_with_typed_cards_and_history(tiny_gguf):
    from rich.cells import cell_len

    from spreads.spread import find_spread

    make_run(RUN, gguf=tiny_gguf)
    _store_reading("单张牌", [("指引", "高塔", True)])  # Mel's earlier reading, for the history switch
    app = HearthApp(engine_settings=EngineSettings(n_ctx=2048, n_threads=2, seed=1, max_reply_tokens=8))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        screen = app.screen
        screen.query_one("#spread").value = "celtic-cross"
        screen.query_one("#person").value = "Mel"
        screen.query_one("#history").value = True
        screen.query_one("#typed-cards").value = "XVI rev, 0, ten of coins (R), 圣杯侍者, 2 of swords, 逆位 审判, " \
                                                 "Rx Death, 星币三, King of Disks, the world reversed"
        await _ask(pilot, screen, "我该搬家吗？")
        assert "unknown" not in str(screen.query_one("#tarot-status").render())
        view = screen.query_one(SpreadView)
        celtic = find_spread("celtic-cross")
        # every card in its position's place on the grid: (column, row) of the spread's `at`
        cells = view.cells()
        for number, position in enumerate(celtic.positions, start=1):
            assert cells[position.at][0] == f"{number} {position.zh}"
        assert cells[celtic.positions[0].at][1:] == ("高塔", True)
        assert cells[celtic.positions[9].at][1:] == ("世界", True)
        lines = _screen_lines(screen)
        assert len(lines) == 24
        top = view.region.y
        assert view.region.height == 4 * 2 + 2 and view.region.right <= 80  # four rows of two lines, in 80 columns
        # the cross: 目标 above 现状, 根基 below it; the staff on the right, 结果 on top
        column_of = {text: cell_len(line[:line.index(text)]) for line in lines[top:top + 10]
                     for text in ("3 目标", "1 现状", "4 根基", "5 近期过去", "10 结果", "7 自我态度") if text in line}
        assert column_of["3 目标"] == column_of["1 现状"] == column_of["4 根基"] > column_of["5 近期过去"]
        assert column_of["10 结果"] == column_of["7 自我态度"] > column_of["1 现状"]
        assert [n for n, line in enumerate(lines) if "10 结果" in line or "7 自我态度" in line] == [top + 1, top + 7]
        assert any("高塔 逆" in line for line in lines[top:top + 10])
        assert screen.reading_view.region.height >= 3  # the reading still has room
        stored = screen.reading_id
    with ReadingStore(HistoryStore(history_db())) as store:
        reading = store.get(stored)
    assert [c["card"] for c in reading.cards][:3] == ["高塔", "愚人", "星币十"]
    assert reading.context["history"][0]["cards"] == ["高塔(逆位)"]  # the switch gave the reader Mel's history


async def test_a_mistyped_card_is_said_on_the_screen_and_nothing_is_read(tiny_gguf):
    make_run(RUN, gguf=tiny_gguf)
    app = HearthApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        screen = app.screen
        screen.query_one("#spread").value = "single"
        screen.query_one("#typed-cards").value = "XXII"
        screen.query_one("#question").value = "q?"
        screen.query_one("#question").focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "did you mean The World" in str(screen.query_one("#tarot-status").render())
        assert screen.request is None and screen.query_one("#question").value == "q?"


async def test_the_spread_names_and_the_default_asker_follow_the_models_language(tiny_gguf):
    english = make_run("smollm2-cpu-20250102-000000", recipe="smollm2-cpu", gguf=tiny_gguf)
    (english.root / "data-report.json").write_text('{"language": "en"}', encoding="utf-8")
    make_run(RUN, gguf=tiny_gguf)  # no report, no held-out text: Chinese, the default
    app = HearthApp(engine_settings=EngineSettings(n_ctx=2048, n_threads=2, seed=1, max_reply_tokens=12))
    async with app.run_test(size=(110, 36)) as pilot:
        await pilot.press("a")
        screen = app.screen
        models, spread, person = screen.query_one("#model"), screen.query_one("#spread"), screen.query_one("#person")
        chinese_model = next(value for _, value in models._options if value != models.BLANK and RUN in str(value))
        english_model = next(value for _, value in models._options if value != models.BLANK
                             and english.root.name in str(value))
        models.value = english_model
        await pilot.pause()
        assert person.value == "Anonymous" and spread.value == "three-card"
        assert "Three cards · 3" in [str(label) for label, _ in spread._options]
        models.value = chinese_model
        await pilot.pause()
        assert person.value == "匿名" and "三张牌 · 3" in [str(label) for label, _ in spread._options]
        person.value = "Mel"
        models.value = english_model
        await pilot.pause()
        assert person.value == "Mel"  # a name the person typed stays
