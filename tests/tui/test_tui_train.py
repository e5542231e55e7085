"""The train screen runs the real training child on the tiny base and draws its progress to the end;
bad input and a failing child are shown as messages while the app carries on."""

from __future__ import annotations

import json

from tui_helpers import make_run, wait_for

from tui.app import HearthApp
from tui.screens.export import ExportScreen
from tui.screens.home import HomeScreen
from tui.screens.train import TrainScreen
from tui.widgets.train_progress import TrainProgress


def _status(screen, progress: str = "#progress") -> str:
    return str(screen.query_one(f"{progress} #job-status").render())


async def test_training_runs_to_done_with_progress(installed_tiny_base):
    app = HearthApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        screen = app.screen
        assert isinstance(screen, TrainScreen)
        screen.query_one("#max-steps").value = "2"
        screen.query_one("#lora-r").value = "4"  # an edited recipe field reaches the run's recipe
        await pilot.click("#start")
        await wait_for(pilot, lambda: screen.runner is not None, what="the job to start")
        assert screen.query_one("#cancel").disabled is False and screen.query_one("#start").disabled
        await wait_for(pilot, lambda: screen.runner is None, timeout=150, what="training to finish")
        assert "adapter saved at step 2" in _status(screen), _status(screen)
        progress = screen.query_one(TrainProgress)
        bar = screen.query_one("#job-bar")
        assert bar.total == 2 and bar.progress == 2
        assert len(progress.losses) == 1 and progress.query_one("#loss-sparkline").data == progress.losses
        assert "step 2/2 · loss" in str(progress.query_one("#job-metrics").render())
        run = screen.run
        assert (run.adapter / "adapter_config.json").is_file()
        assert json.loads((run.adapter / "adapter_config.json").read_text(encoding="utf-8"))["r"] == 4
        lines = [json.loads(line) for line in run.metrics.read_text(encoding="utf-8").splitlines()]
        steps = [line for line in lines if line["kind"] == "train"]
        assert steps[-1]["step"] == 2 and steps[-1]["loss"] == progress.losses[-1]
        assert not screen.query_one("#merge").disabled and screen.query_one("#export").disabled
        log_text = "\n".join(line.text for line in screen.query_one("#job-log").lines)
        assert "training from step 0 to 2" in log_text
        await pilot.press("escape")
        assert isinstance(app.screen, HomeScreen)
        assert app.screen.runs[0].id == run.root.name and app.screen.runs[0].has_adapter


async def test_bad_data_and_a_failing_child_are_messages_not_crashes(tmp_path):
    app = HearthApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        screen = app.screen
        screen.query_one("#data").value = str(tmp_path / "missing.jsonl")
        await pilot.click("#start")
        await wait_for(pilot, lambda: screen.runner is None and "failed" in _status(screen), timeout=60,
                       what="the data check to fail")
        assert not (app.home_dir / "runs").exists()  # a run that cannot start leaves no directory behind
        assert any("missing.jsonl" in n.message for n in app._notifications)
        assert screen.query_one("#start").disabled is False  # ready to try again

        # a child that crashes: exporting a run whose merged model is garbage (one without a word: test_tui_jobs).
        # Export… opens the export screen for the run, whose child fails and says why while the app carries on.
        run = make_run("broken", adapter=True)
        run.merged.mkdir()
        (run.merged / "config.json").write_text("{not json", encoding="utf-8")
        screen.run = run
        screen._refresh_buttons()
        await pilot.pause()  # the run's buttons appear
        await pilot.click("#export")
        await wait_for(pilot, lambda: isinstance(app.screen, ExportScreen), what="the export screen")
        export = app.screen
        assert export.run.root == run.root and export.query_one("#export-run").value == str(run.root)
        await pilot.press("s")
        await wait_for(pilot, lambda: export.runner is None and "failed" in _status(export, "#export-progress"),
                       timeout=60, what="the export child to fail")
        errors = [n.message for n in app._notifications if n.title == "export failed"]
        assert errors and errors[-1].startswith("export crashed: ")  # hearth/job_main.py's last event for a bug
        assert "JSONDecodeError" in errors[-1]  # the child's own last words, not a blank failure
        await pilot.press("escape")
        assert app.screen is screen and not screen.query_one("#export").disabled


async def test_cancel_stops_the_child_and_offers_resume(fake_trainer):
    app = HearthApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("t")
        screen = app.screen
        screen.run = make_run("tiny-offline-20250101-000000")
        screen._follow(screen._begin("train", fake_trainer, [str(screen.run.root)]))
        await wait_for(pilot, lambda: "step 3/10" in str(screen.query_one("#job-metrics").render()),
                       what="the first step")
        await pilot.press("escape")  # too easy to hit: it warns instead of stopping or leaving
        assert app.screen is screen and screen.runner is not None
        await pilot.click("#cancel")
        await wait_for(pilot, lambda: screen.runner is None, what="the child to stop")
        assert _status(screen) == "stopped at step 3; a checkpoint was saved — Resume continues"
        resume = screen.query_one("#resume")
        assert resume.display and not resume.disabled and app.focused is resume
