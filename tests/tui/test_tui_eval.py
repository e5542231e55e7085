"""The run list marks runs with an eval; `v` opens the highlighted run's eval: the measures table, the verdict and
the replies side by side, drawn by the same renderer as `hearth eval`."""

from __future__ import annotations

from rich.console import Console
from tui_helpers import make_run, wait_for

from tuner.evaluate.measures import Context, Reply
from tuner.evaluate.report import EvalReport, measure_rows, verdict, write_report
from tui.app import HearthApp
from tui.screens.eval import EvalScreen
from tui.widgets.run_list import RunList

PROMPT = [{"role": "system", "content": "你是林栀。"}, {"role": "user", "content": "今天喝什么茶？"}]


def _report(run_id: str) -> EvalReport:
    contexts = [Context(reference="来一杯桂花乌龙吧。", language="zh", persona="你是林栀。", median_units=8)]
    replies = {"base": [Reply("I am SmolLM, an AI assistant.", False, 48)], "tuned": [Reply("来一杯乌龙吧。", True, 9)]}
    loss = {"base": {"loss": 3.2, "perplexity": 24.5, "tokens": 40, "conversations": 4},
            "tuned": {"loss": 1.1, "perplexity": 3.0, "tokens": 40, "conversations": 4}}
    rows = measure_rows(replies, contexts)
    return EvalReport(run=run_id, base="tiny-qwen2", source="held-out", language="zh",
                      settings={"max_new_tokens": 48, "temperature": 0.7, "top_p": 0.9, "seed": 0},
                      sides=["base", "tuned"], loss=loss, measures=rows, verdict=verdict(loss, rows),
                      samples=[{"messages": PROMPT, "reference": contexts[0].reference,
                                "replies": {side: r[0].to_json() for side, r in replies.items()}}])


def _text(static) -> str:
    console = Console(width=160, record=True, file=open("/dev/null", "w"))
    console.print(static.content)  # the rich renderable the screen was given
    return console.export_text()


async def test_v_on_a_run_opens_its_eval():
    evaluated = make_run("tiny-offline-20250101-000000", steps=4, adapter=True)
    write_report(evaluated.root, _report(evaluated.root.name))
    app = HearthApp()
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        rows = app.screen.query_one(RunList).table
        assert [str(c) for c in rows.get_row_at(0)][-1] == "✓"  # the eval column
        await pilot.press("v")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, EvalScreen) and app.screen, what="the eval screen")
        shown = _text(screen.query_one("#eval-report"))
        assert "held-out loss" in shown and "3.200 · ppl 24.50" in shown and "1.100" in shown
        assert "identity slips" in shown and "ends by itself" in shown
        assert "held-out loss 3.200 → 1.100 (lower); tuned closer to the data on" in shown
        assert "来一杯桂花乌龙吧。" in shown and "I am SmolLM, an AI assistant." in shown  # the side-by-side
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EvalScreen), what="back home")


async def test_a_run_without_eval_says_how_to_make_one():
    make_run("tiny-offline-20250102-000000", steps=2, adapter=True)
    app = HearthApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("v")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, EvalScreen) and app.screen, what="the eval screen")
        assert "no eval of tiny-offline-20250102-000000 yet — press r" in str(screen.query_one("#eval-status").render())
