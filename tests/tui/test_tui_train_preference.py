"""Preference training from the train screen: pick dpo, the run to start from (the one highlighted on the home
screen comes preselected), a pairs file; Check data shows the report; Start runs the real DPO child on the tiny base
(`hearth train --method dpo --from RUN`'s request) and its step events fill the progress to the end."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from tui_helpers import make_run, screen_rows, wait_for

from hearth.errors import UserError
from hearth.paths import RunPaths, runs_dir
from tui.app import HearthApp
from tui.screens.train import RECIPE_FIELDS, TrainScreen, check_request, form_request
from tui.widgets.train_progress import TrainProgress
from tuner.recipe import load_recipe

WARM = ["来一杯桂花乌龙吧～", "试试我刚泡的白毫银针呀。", "今天适合喝一杯热热的红茶～", "我给你留了一壶茉莉花茶。"]
COLD = ["不知道。", "随便。", "自己看菜单。", "没空。"]


def pair(i: int) -> dict:
    prompt = [{"role": "user", "content": f"第{i}次来店里，今天喝点什么好？"}]
    return {"prompt": prompt, "chosen": [{"role": "assistant", "content": WARM[i % 4]}],
            "rejected": [{"role": "assistant", "content": COLD[i % 4]}]}


def merged_run(name: str, base_dir) -> RunPaths:
    """An SFT run as `hearth merge` leaves it: its resolved recipe and a merged model (the tiny base itself)."""
    run = RunPaths(runs_dir() / name)
    run.root.mkdir(parents=True)
    run.recipe.write_text(load_recipe("tiny-offline").to_yaml(), encoding="utf-8")
    shutil.copytree(base_dir, run.merged)
    return run


def _log(screen) -> str:
    return "\n".join(line.text for line in screen.query_one("#job-log").lines)


def _status(screen) -> str:
    return str(screen.query_one("#job-status").render())


def test_a_preference_request_starts_from_a_run_and_checks_its_data_without_merging(tmp_path):
    start = make_run("tiny-offline-20250101-000000", adapter=True)
    start.recipe.write_text(load_recipe("tiny-offline").to_yaml(), encoding="utf-8")
    request = form_request("smollm2-cpu", "pairs.jsonl", "ignored/base", {"max-steps": "4"}, method="kto",
                           start_from=start.root.name)
    # the start run's recipe (as `hearth train --method kto --from RUN` without --recipe), not the recipe picker's
    assert (request.recipe, request.base, request.method) == (None, None, "kto")
    assert request.start_from == str(start.root) and request.overrides == ["train.max_steps=4"]
    checked = check_request(request)  # the check reads the start run's recipe (its tokenizer); nothing is merged
    assert checked.recipe == str(start.recipe) and checked.start_from is None and checked.method == "kto"
    with pytest.raises(UserError, match="DPO refines a trained run: pick the run to start from"):
        form_request("tiny-offline", "", "", {}, method="dpo", start_from=None)
    with pytest.raises(UserError, match="'lora.r' must be int"):
        form_request("tiny-offline", "", "", {"lora-r": "x"}, method="dpo", start_from=start.root.name)


async def test_dpo_from_the_highlighted_run_checks_pairs_and_trains_to_done(installed_tiny_base, tmp_path):
    start = merged_run("tiny-offline-20250101-000000", installed_tiny_base)
    other = make_run("tiny-offline-20250102-000000", adapter=True)  # newer: the home list's first row
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(pair(i), ensure_ascii=False) + "\n" for i in range(16)), encoding="utf-8")
    app = HearthApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#runs").highlighted_key == str(other.root)
        await pilot.press("down", "t")  # the older run highlighted, then train
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        starts = screen.query_one("#start-from")
        assert not starts.display and screen.query_one("#recipe").display  # sft: the recipe and base pickers

        screen.query_one("#method").focus()
        await pilot.press("enter", "down", "enter")  # sft -> dpo
        assert screen.query_one("#method").value == "dpo"
        assert starts.display and starts.value == str(start.root)  # the highlighted run, not the newest
        assert not screen.query_one("#recipe").display and not screen.query_one("#base").display
        assert "from tiny-offline-20250101-000000 (its recipe tiny-offline" in _status(screen)
        assert screen.query_one("#learning-rate").placeholder == "0.0002"  # a tenth of the SFT run's
        assert set(RECIPE_FIELDS) <= {w.id for w in screen.query(".recipe-field")}

        screen.query_one("#data").value = str(pairs)
        screen.query_one("#max-steps").value = "4"
        await pilot.click("#check")
        await wait_for(pilot, lambda: screen.data_check is not None, timeout=120, what="the data check")
        assert screen.data_check.report.rows_kept == 16 and screen.data_check.report.rows_rejected == 0
        assert screen.data_check.report.files == {str(pairs): "preference"} and "(preference)" in _log(screen)
        assert not start.root.joinpath("adapter").exists()  # the check merged nothing, trained nothing

        await pilot.click("#start")
        await wait_for(pilot, lambda: screen.runner is not None, what="the job to start")
        await wait_for(pilot, lambda: screen.query_one(TrainProgress).losses, timeout=240, what="a step event")
        await wait_for(pilot, lambda: screen.runner is None, timeout=240, what="DPO training to finish")
        assert "adapter saved at step 4" in _status(screen), _log(screen)
        run = screen.run
        assert run.root.name.startswith("tiny-offline-dpo-") and (run.adapter / "adapter_config.json").is_file()
        recipe = yaml.safe_load(run.recipe.read_text(encoding="utf-8"))
        assert recipe["train"]["method"] == "dpo" and recipe["model"]["base"] == str(start.merged)
        assert recipe["train"]["max_steps"] == 4
        report = json.loads(run.data_report.read_text(encoding="utf-8"))
        assert report["method"] == "dpo" and report["pairs"] == 16
        assert screen.query_one("#job-bar").progress == 4
        assert "loading tokenizer and DPO data" in _log(screen)
        assert not screen.query_one("#merge").disabled  # a preference run merges and exports as an SFT one does
        assert str(run.root) in [root for _, root in screen._starts]  # and can be started from in turn


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_the_dpo_form_shows_the_run_it_starts_from_whole(size):
    start = make_run("tiny-offline-20250101-000000", adapter=True)
    start.recipe.write_text(load_recipe("tiny-offline").to_yaml(), encoding="utf-8")
    app = HearthApp()
    async with app.run_test(size=size) as pilot:
        await pilot.press("t")
        screen = app.screen
        screen.query_one("#method").value = "kto"
        await pilot.pause(0.3)
        rows = screen_rows(screen)
        assert any("kto" in row and "from tiny-offline-20250101-000000 · adapter" in row for row in rows), rows
        assert any("pairs or rated replies" in row for row in rows)
        region = screen.query_one("#start-from").region
        assert region.right <= size[0] and region.width >= len("from tiny-offline-20250101-000000 · adapter") + 6
