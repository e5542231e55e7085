"""The export screen runs the real exporter child on a tiny trained run: a cancel leaves nothing behind, a
finished export shows each file's checks from its report, the behaviour warnings apart, and the Ollama command."""

from __future__ import annotations

import torch
from tui_helpers import make_run, wait_for

from exporter.quantize import QUANT_TYPES
from hearth.paths import RunPaths, runs_dir
from tui.app import HearthApp
from tui.screens.export import ExportScreen
from tui.widgets.verify_table import VerifyTable

RUN = "tiny-offline-20260101-000000"


def _trained_run(base_dir) -> RunPaths:
    """A run as training and `hearth merge` leave it: a PEFT adapter on the tiny base and the merged model."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run = RunPaths(runs_dir() / RUN)
    run.root.mkdir(parents=True)
    run.recipe.write_text("name: tiny-offline\n", encoding="utf-8")
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    adapted = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    adapted.save_pretrained(run.adapter)
    adapted.merge_and_unload().save_pretrained(run.merged)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(run.merged)
    return run


def _status(screen) -> str:
    return str(screen.query_one("#job-status").render())


def _leftovers(run: RunPaths) -> list[str]:
    return [p.name for p in run.root.iterdir() if p.name.startswith(".gguf.")]


async def test_export_screen_cancels_then_exports_and_shows_every_check(tiny_base_dir):
    older = make_run("tiny-offline-20250101-000000", adapter=True)  # its adapter names no base on disk
    run = _trained_run(tiny_base_dir)
    app = HearthApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")  # the newest run is highlighted on the home screen
        screen = app.screen
        assert isinstance(screen, ExportScreen) and screen.run.root == run.root
        quants = screen.query_one("#quants")
        assert [quants.get_option_at_index(i).value for i in range(quants.option_count)] == list(QUANT_TYPES)
        assert list(quants.selected) == ["q8_0"]
        assert not screen.query_one("#lora").disabled  # a plain LoRA on a local base: it can be a GGUF LoRA
        assert "not exported yet" in str(screen.query_one("#export-run-state").render())
        picker = screen.query_one("#export-run")
        picker.value = str(older.root)  # another run: its adapter cannot become a GGUF LoRA, and it says why
        await wait_for(pilot, lambda: screen.run.root == older.root, what="the other run to be picked")
        assert screen.query_one("#lora").disabled
        assert "no LoRA GGUF: " in str(screen.query_one("#export-run-state").render())
        picker.value = str(run.root)
        await wait_for(pilot, lambda: not screen.query_one("#lora").disabled, what="the run to be picked again")

        # Cancel once the child is under way: nothing half-written is left, no gguf/ appears.
        await pilot.press("s")
        assert screen.runner is not None and not screen.query_one("#cancel").disabled
        await wait_for(pilot, lambda: "converting" in _status(screen), timeout=40, what="the export to begin")
        await pilot.press("x")
        await wait_for(pilot, lambda: screen.runner is None, timeout=30, what="the export to stop")
        assert "cancelled" in _status(screen), _status(screen)
        assert not run.gguf.exists() and _leftovers(run) == []

        # Start again and let it finish.
        await pilot.press("s")
        await wait_for(pilot, lambda: screen.runner is None, timeout=90, what="the export to finish")
        assert "export passed" in _status(screen), _status(screen)
        report = screen.report
        assert report.passed and [f.type for f in report.files] == ["f16", "q8_0"]
        table = screen.query_one(VerifyTable)
        assert [row.file for row in table.file_rows] == [f"{RUN}-f16.gguf", f"{RUN}-q8_0.gguf"]
        f16, q8 = report.files
        tokenizer = f"{q8.tokenizer['probes']}/{q8.tokenizer['probes']}"
        argmax = f"{f16.logits['positions'] - f16.logits['argmax_mismatches']}/{f16.logits['positions']}"
        assert [table.cell_text(1, c) for c in ("file", "tokenizer", "argmax", "ppl Δ", "stop", "fidelity")] == [
            "q8_0", tokenizer, "—", f"{q8.perplexity['increase']:+.2%}", "agree", "pass"]
        assert table.cell_text(0, "argmax") == argmax and table.cell_text(0, "ppl Δ") == "—"
        assert table.cell_text(1, "size") == f"{report.quantize[0]['bytes_after'] / 1e6:,.1f} MB"
        details = screen.query_one("#check-details")  # the highlighted file's checks, in the exporter's own lines
        assert details.border_title == f"checks of {RUN}-f16.gguf" and "logits parity:" in str(details.render())
        table.move_cursor(row=1)
        await wait_for(pilot, lambda: "perplexity:" in str(details.render()), what="the q8_0 file's checks")
        outputs = str(screen.query_one("#export-outputs").render())
        assert report.ollama.startswith("ollama create ") and report.ollama in outputs.replace("\n", "")
        assert str(run.gguf / "Modelfile") in outputs.replace("\n", "") and f"{RUN}-q8_0.gguf" in outputs
        # The untrained tiny model never ends its turn: a behaviour warning, shown apart, not a failure.
        behaviour = str(screen.query_one("#behaviour").render())
        assert report.warnings and report.warnings[0]["issue"] in behaviour.replace("\n", " ")
        assert (run.gguf / f"{RUN}-q8_0.gguf").is_file() and _leftovers(run) == []
        assert screen.query_one("#start").disabled is False
