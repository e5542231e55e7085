"""`hearth export RUN`: merged → f16 → quantizations (+ LoRA), Modelfile, export.json; nothing
finished-looking after an interruption; the CLI's exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.convert import convert_hf_to_gguf
from exporter.export import export_run, summary_text
from exporter.export_report import ExportReport
from hearth.paths import RunPaths
from tests.exporter.conftest import SYSTEM_PROMPT


@pytest.fixture(scope="module")
def exported(run_dir, tmp_path_factory):
    events = []
    # A module fixture runs before the per-test HEARTH_HOME: give the shared base GGUF a home of its own.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEARTH_HOME", str(tmp_path_factory.mktemp("export-home")))
        report = export_run(RunPaths(run_dir), quants=("q8_0", "q4_k_m"), lora=True,
                            emit=lambda event, **fields: events.append((event, fields)))
    return report, events


def test_export_writes_every_file_and_a_passing_report(exported, run_dir):
    report, events = exported
    gguf_dir = run_dir / "gguf"
    names = sorted(p.name for p in gguf_dir.iterdir())
    assert names == ["Modelfile", "export.json", "run-1-f16.gguf", "run-1-lora.gguf", "run-1-q4_k_m.gguf",
                     "run-1-q8_0.gguf"]
    written = json.loads((gguf_dir / "export.json").read_text(encoding="utf-8"))
    assert written == report.to_json() and ExportReport.from_json(written) == report
    assert list(written) == ["run", "created", "files", "quantize", "lora", "ollama", "passed", "warnings", "seconds"]
    assert [list(f) for f in written["files"]] == [  # a check that does not apply to a file is left out
        ["file", "type", "specials", "tokenizer", "logits", "stop", "behaviour", "passed"],
        *[["file", "type", "specials", "tokenizer", "perplexity", "stop", "behaviour", "passed"]] * 2]
    f16, q8, q4 = report.files
    assert report.passed, summary_text(report)
    assert f16.tokenizer["passed"] and f16.logits["argmax_mismatches"] == 0 and f16.logits["max_abs_diff"] > 0
    assert f16.stop["finish_reason"] == "stop" and f16.stop["end_of_turn"] == "<|im_end|>"
    assert q8.perplexity["source"] == "held-out text" and q8.perplexity["reference"] == "run-1-f16.gguf"
    assert abs(q8.perplexity["increase"]) < abs(q4.perplexity["increase"]) + 0.01
    base = Path(report.lora["base"])  # the base's GGUF is shared by its runs, outside this one
    assert report.lora["passed"] and base.is_file() and base.parent.name == "gguf" and base.parent.parent.name == "models"
    assert [e for e, _ in events].count("stage") >= 8 and ("saved", {"path": str(gguf_dir / "run-1-q8_0.gguf")}) in events
    assert "export passed" in summary_text(report)


def test_a_second_run_on_the_same_base_reuses_its_gguf(exported, run_dir, tmp_path, monkeypatch):
    import shutil

    base = Path(exported[0].lora["base"])
    monkeypatch.setenv("HEARTH_HOME", str(base.parents[2]))  # the home the first export used
    second = tmp_path / "run-2"
    for part in ("adapter", "merged"):
        shutil.copytree(run_dir / part, second / part)
    shutil.copy(run_dir / "recipe.yaml", second / "recipe.yaml")
    before = base.stat().st_mtime_ns
    events = []
    report = export_run(RunPaths(second), quants=("f16",), lora=True, emit=lambda e, **f: events.append(f.get("message", "")))
    assert report.lora["passed"] and report.lora["base"] == str(base) and base.stat().st_mtime_ns == before
    assert any(message.startswith("reusing the base model's GGUF") for message in events)
    assert not (second / "gguf" / "run-2-base-f16.gguf").exists()


def test_modelfile_serves_the_first_quantization_with_template_stop_and_persona(exported, run_dir):
    text = (run_dir / "gguf" / "Modelfile").read_text(encoding="utf-8")
    assert text.startswith("FROM ./run-1-q8_0.gguf\n")
    assert 'PARAMETER stop "<|im_end|>"' in text
    assert f'SYSTEM """{SYSTEM_PROMPT}"""' in text
    assert 'TEMPLATE """' in text and "<|im_start|>user\n" in text and "<|im_end|>\n<|im_start|>assistant\n" in text


# `python -m exporter export RUN`, except that the child signals itself as quantization starts (the f16 file
# is complete by then). Sent from outside, the signal raced the export: on a busy 2-core machine a tiny
# model's quantization and verification sometimes finished before the signal arrived.
INTERRUPTED_EXPORT = """
import os, sys
import exporter.export as export
quantize = export.quantize_gguf
def interrupted(*args, **kwargs):
    os.kill(os.getpid(), int(sys.argv[2]))
    return quantize(*args, **kwargs)
export.quantize_gguf = interrupted
from exporter.__main__ import main
sys.exit(main(["export", sys.argv[1], "--quant", "q8_0"]))
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_export_leaves_nothing_that_looks_finished(sig, run_dir, tmp_path):
    import shutil

    run = Path(shutil.copytree(run_dir, tmp_path / "run", ignore=shutil.ignore_patterns("gguf")))
    child = subprocess.run([sys.executable, "-c", INTERRUPTED_EXPORT, str(run), str(int(sig))],
                           capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    events = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]
    assert any(e["event"] == "stage" and "quantizing to q8_0" in e["message"] for e in events)
    assert child.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL), child.stderr[-2000:]
    assert not (run / "gguf").exists()
    leftovers = [p for p in run.rglob("*") if "gguf" in p.name.lower() or p.name == "export.json"]
    assert all(".partial-" in str(p.relative_to(run)) for p in leftovers), leftovers
    if sig == signal.SIGKILL:
        assert leftovers  # killed outright: the f16 file is left, but only under its .partial name
    else:
        assert leftovers == [] and events[-1]["event"] == "error"  # a cancel cleans up its own temporaries


def test_cli_verify_exits_nonzero_when_parity_fails(qwen2_dir, f16_files, tmp_path, capsys):
    from tui.cli import main

    assert main(["verify", str(qwen2_dir), str(f16_files["qwen2_dir"])]) == 0
    assert "parity passed" in capsys.readouterr().out
    # GPT-2's splitter groups digits that Qwen's splits one by one: the tokenizer probes catch it.
    wrong = convert_hf_to_gguf(qwen2_dir, tmp_path / "wrong-pre.gguf", pre_tokenizer="gpt-2")
    assert main(["verify", str(qwen2_dir), str(wrong)]) == 1
    assert "parity FAILED" in capsys.readouterr().out


def test_cli_refuses_an_unsupported_architecture_in_one_line(qwen2_dir, tmp_path, capsys):
    import shutil

    from tui.cli import main

    model = Path(shutil.copytree(qwen2_dir, tmp_path / "m"))
    config = json.loads((model / "config.json").read_text(encoding="utf-8"))
    config["architectures"] = ["MambaForCausalLM"]
    (model / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert main(["convert", str(model), str(tmp_path / "m.gguf")]) == 2
    assert "MambaForCausalLM" in capsys.readouterr().err
