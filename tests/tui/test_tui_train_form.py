"""The train screen's form: a base picked from disk or typed, the recipe's main fields edited (mapped onto
tuner.runs.RunRequest and checked before anything starts), and Check data showing the report `hearth data check`
prints — rows kept, rejected with file:line and why, token-length percentiles, truncations — before Start."""

from __future__ import annotations

import json

import pytest
from tui_helpers import make_run, wait_for

from hearth.errors import UserError
from tui.app import HearthApp
from tui.screens.train import RECIPE_BASE, RECIPE_FIELDS, TrainScreen, form_request

GOOD = {"messages": [{"role": "user", "content": "你好，今天过得怎么样？"},
                     {"role": "assistant", "content": "*放下书* 还不错，你呢？我们去喝杯茶吧。"}]}
LONG = {"messages": [{"role": "user", "content": "讲个故事"}, {"role": "assistant", "content": "从前有座山。" * 40}]}
NOT_A_ROW = {"text": "no messages here"}


def _log_text(screen) -> str:
    return "\n".join(line.text for line in screen.query_one("#job-log").lines)


async def _train_screen(pilot, app) -> TrainScreen:
    await pilot.press("t")
    assert isinstance(app.screen, TrainScreen)
    return app.screen


def test_form_fields_become_recipe_overrides_on_the_request():
    fields = {field: "" for field in RECIPE_FIELDS}
    fields.update({"max-steps": "5", "learning-rate": "2e-4", "lora-r": "4", "lora-dropout": "0.0",
                   "eval-fraction": " 0.2 "})
    request = form_request("tiny-offline", "a.jsonl 'b c.jsonl'", "some/base", fields)
    assert request.recipe == "tiny-offline" and request.data == ["a.jsonl", "b c.jsonl"]
    assert request.base == "some/base"
    assert request.overrides == ["train.max_steps=5", "train.learning_rate=2e-4", "lora.r=4", "lora.dropout=0.0",
                                 "data.eval_fraction=0.2"]
    assert form_request("tiny-offline", "", "  ", {"epochs": ""}).base is None  # empty: the recipe's own
    with pytest.raises(UserError, match="'lora.r' must be int, not 'lots'"):
        form_request("tiny-offline", "", "", {"lora-r": "lots"})
    with pytest.raises(UserError, match="eval_fraction must be in"):
        form_request("tiny-offline", "", "", {"eval-fraction": "1.5"})
    with pytest.raises(UserError, match="not imported yet: `hearth base smollm2`"):
        form_request("tiny-offline", "", "smollm2-135m-instruct", {})


async def test_base_choices_and_fields_shown_and_read(installed_tiny_base, tmp_path):
    app = HearthApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _train_screen(pilot, app)
        base = screen.query_one("#base")
        values = [value for _, value in base._options]
        assert values == [RECIPE_BASE, "tiny-qwen2", "smollm2-135m-instruct"]  # on disk, then the packaged one
        assert screen.query_one("#learning-rate").placeholder == "0.002"  # the recipe's values until typed over
        assert screen.query_one("#lora-r").placeholder == "16"
        assert screen._request().base is None and screen._request().overrides == []
        base.value = "smollm2-135m-instruct"
        await pilot.pause()
        assert "not imported yet" in str(screen.query_one("#job-status").render())
        base.value = "tiny-qwen2"
        screen.query_one("#lora-alpha").value = "8"
        screen.query_one("#epochs").value = "2"
        request = screen._request()
        assert request.base == "tiny-qwen2" and request.overrides == ["train.epochs=2", "lora.alpha=8"]
        screen.query_one("#base-path").value = str(installed_tiny_base)  # a typed path wins over the list
        assert screen._request().base == str(installed_tiny_base)
        screen.query_one("#lora-alpha").value = "0.5"
        await pilot.click("#start")
        await pilot.pause()
        assert screen.runner is None  # refused before anything started
        assert any("'lora.alpha' must be int" in n.message for n in app._notifications)


async def test_check_data_shows_the_report_before_start(installed_tiny_base, tmp_path):
    data = tmp_path / "chats.jsonl"
    rows = [GOOD, GOOD, NOT_A_ROW, LONG]
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    app = HearthApp()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _train_screen(pilot, app)
        screen.query_one("#data").value = str(data)
        screen.query_one("#max-length").value = "64"
        await pilot.click("#check")
        await wait_for(pilot, lambda: screen.data_check is not None, timeout=60, what="the data check")
        report = screen.data_check.report
        assert (report.rows_kept, report.rows_rejected, report.max_length) == (3, 1, 64)
        assert report.truncated_rows == 1  # the long story is cut at the edited max length
        assert screen.query_one("#check").disabled is False and screen.runner is None  # nothing started
        status = str(screen.query_one("#job-status").render())
        assert status.startswith("3 rows kept, 1 rejected · tokens p50 ") and "1 cut at 64" in status
        log = _log_text(screen)
        assert f"rejected {data}:3: messages: 'messages' must be a non-empty list" in log.replace("\n", "")
        assert "p50" in log and "p99" in log and "1 would be cut at max length 64" in log
        assert not (app.home_dir / "runs").exists()  # a check makes no run
        assert any("1 rows rejected" in n.message for n in app._notifications)

        screen.query_one("#data").value = str(tmp_path / "missing.jsonl")
        screen.data_check = None
        await pilot.click("#check")
        await wait_for(pilot, lambda: not screen.checking, timeout=60, what="the failed check")
        assert screen.data_check is None
        assert any(n.title == "data check failed" and "missing.jsonl" in n.message for n in app._notifications)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_the_form_fits_the_terminal(size):
    app = HearthApp()
    async with app.run_test(size=size) as pilot:
        screen = await _train_screen(pilot, app)
        await pilot.pause()
        width, height = size
        for widget_id in ("recipe", "base", "base-path", "data", "check", "start", "cancel", "job-log",
                          *RECIPE_FIELDS):
            region = screen.query_one(f"#{widget_id}").region
            assert region.width > 0 and region.height > 0, widget_id
            assert region.right <= width and region.bottom <= height - 1, widget_id  # above the footer
        for button_id in ("check", "start", "cancel"):  # labels whole, not cut
            button = screen.query_one(f"#{button_id}")
            assert button.region.width >= len(str(button.label)) + 2, button_id
        for title, field in zip(screen.query(".recipe-title"), RECIPE_FIELDS):
            assert title.region.width >= len(str(title.render())), field
        assert screen.query_one("#recipe").region.width >= len("tiny-offline") + 6


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_a_runs_actions_fit_beside_the_form(size, tiny_gguf):
    app = HearthApp()
    async with app.run_test(size=size) as pilot:
        app.open_train(make_run("tiny-offline-20250101-000000", steps=4, adapter=True, gguf=tiny_gguf))
        await pilot.pause()
        screen = app.screen
        width, height = size
        for widget_id in ("merge", "export", "chat", "start"):
            region = screen.query_one(f"#{widget_id}").region
            assert region.width > 0 and region.right <= width and region.bottom <= height - 1, widget_id
        assert screen.query_one("#job-log").region.height >= 4  # the log keeps room to read
