"""A trained run → `runs/<id>/gguf/`: the merged model as f16 GGUF, each requested quantization,
optionally the LoRA adapter as GGUF (with the base model's f16 GGUF it applies to), an Ollama
Modelfile, and `export.json`, the fidelity report of every file — which alone decides `passed` — and the
trained model's own behaviour as `warnings` with advice, which never fail a faithful export.

Everything is built in a staging directory beside `gguf/` (each file under a temporary name,
renamed when complete) and swapped in at the end: an interrupted export leaves nothing that looks
finished, and a finished one always has its report.
"""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import yaml

from exporter.convert import convert_hf_to_gguf
from exporter.base_gguf import ensure_base_gguf
from exporter.export_report import ExportReport, FileReport
from exporter.lora import adapter_base_dir, export_lora
from exporter.modelfile import Serving, modelfile_text, ollama_command
from exporter.quantize import QUANT_TYPES, quantize_gguf
from exporter.verify import VerifyContext, summary_lines, verify_gguf, verify_lora
from hearth.atomic import atomic_dir, write_json, write_text
from hearth.errors import UserError
from hearth.paths import RunPaths

Emit = Callable[..., None]


def _system_prompt(run: RunPaths) -> str | None:
    if not run.recipe.is_file():
        return None
    recipe = yaml.safe_load(run.recipe.read_text(encoding="utf-8")) or {}
    prompt = recipe.get("system_prompt") if isinstance(recipe, dict) else None
    return prompt.strip() if isinstance(prompt, str) and prompt.strip() else None


def export_run(run_paths: RunPaths, quants=("q8_0",), lora: bool = False, emit: Emit | None = None,
               serving: Serving | None = None) -> ExportReport:
    """Export one run; returns the report also written to gguf/export.json. `serving` (the sampling settings,
    a persona's system prompt and greeting) goes into the Modelfile; the system prompt also into verification."""
    emit = emit or (lambda *a, **k: None)
    run = run_paths
    if not (run.merged / "config.json").is_file():
        raise UserError("this run has no merged model (merged/config.json); train it to the end and run "
                        "`hearth merge` before exporting", where=str(run.root))
    unknown = [q for q in quants if q not in QUANT_TYPES]
    if unknown:
        raise UserError(f"unknown quantization type {', '.join(unknown)}; choose from {', '.join(QUANT_TYPES)}")
    name = run.root.name
    started = time.perf_counter()
    serving = serving or Serving()
    system_prompt = serving.system_prompt or _system_prompt(run)
    context = VerifyContext(run.merged, heldout=run.heldout if run.heldout.is_file() else None,
                            system_prompt=system_prompt)
    report = ExportReport(name, datetime.now(timezone.utc).isoformat(timespec="seconds"))
    with atomic_dir(run.gguf) as stage:
        f16 = stage / f"{name}-f16.gguf"
        emit("stage", message="converting the merged model to f16 GGUF")
        convert_hf_to_gguf(run.merged, f16, "f16", name=name, log=lambda note: emit("warning", message=note))
        report.files.append(verify_gguf(run.merged, f16, emit=emit, context=context))
        for qtype in (q for q in dict.fromkeys(quants) if q != "f16"):
            emit("stage", message=f"quantizing to {qtype}")
            summary = quantize_gguf(f16, stage / f"{name}-{qtype}.gguf", qtype)
            emit("stage", message=summary.line())
            report.quantize.append(summary.as_dict())
            report.files.append(verify_gguf(run.merged, summary.dst, emit=emit, context=context, reference_gguf=f16))
        if lora:
            report.lora = _export_lora(run, stage, name, f16, emit)
        served = report.files[min(1, len(report.files) - 1)].file  # the first quantization, else f16
        stops = [f.stop["end_of_turn"] for f in report.files[:1]]
        modelfile, notes = modelfile_text(run.merged, served, stops,
                                          dataclasses.replace(serving, system_prompt=system_prompt))
        for note in notes:
            emit("warning", message=note)
        write_text(stage / "Modelfile", modelfile)
        report.ollama = ollama_command(name, run.gguf / "Modelfile")
        report.passed = all([f.passed for f in report.files] + ([report.lora["passed"]] if lora else []))
        report.warnings = _behaviour(report.files, emit)
        report.seconds = round(time.perf_counter() - started, 1)
        write_json(stage / "export.json", report.to_json())
    for file in sorted(run.gguf.iterdir()):
        emit("saved", path=str(file))
    return report


def export_args(run_root, quants, *, lora: bool = False, serving: str | None = None) -> list[str]:
    """The command line of `python -m exporter export` (exporter/__main__.py) for a run, as every front end
    starts it (`hearth export`, the TUI's export screen); `serving` is companion.serving.serving_json's text."""
    quant = quants if isinstance(quants, str) else ",".join(quants)
    return (["export", str(run_root), "--quant", quant] + (["--serving", serving] if serving else [])
            + (["--lora"] if lora else []))


def read_report(run: RunPaths) -> ExportReport | None:
    """The run's last export report (gguf/export.json), or None when it has none it can read."""
    try:
        report = json.loads((run.gguf / "export.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(report, dict) and isinstance(report.get("files"), list)):
        return None
    try:
        return ExportReport.from_json(report)
    except (TypeError, AttributeError):  # a file of another shape: no report to show
        return None


def _behaviour(files: list[FileReport], emit: Emit) -> list[dict]:
    """The trained model's behaviour warnings, once each (every file is checked against the same model)."""
    warnings = list({w["issue"]: w for f in files for w in f.behaviour}.values())
    for warning in warnings:
        emit("warning", message=f"{warning['issue']} — {warning['advice']}")
    return warnings


def _export_lora(run: RunPaths, stage: Path, name: str, merged_f16: Path, emit: Emit) -> dict:
    emit("stage", message="writing the LoRA adapter as GGUF")
    adapter = export_lora(run.root, stage / f"{name}-lora.gguf")
    peft = json.loads((run.adapter / "adapter_config.json").read_text(encoding="utf-8"))
    base = ensure_base_gguf(adapter_base_dir(run.adapter, peft), emit)
    emit("stage", message="verifying base + LoRA against the merged model")
    parity = verify_lora(merged_f16, base, adapter.path, run.merged)
    return {**adapter.as_dict(), "path": adapter.path.name, "base": str(base), **parity}


def summary_text(report: ExportReport) -> str:
    """The verification summary, a few lines, for the CLI and `make demo`."""
    lines = []
    for file in report.files:
        lines.append(f"{file.file}: {'passed' if file.passed else 'FAILED'}")
        lines += [f"  {line}" for line in summary_lines(file) if not line.startswith("warning:")]
    for q in report.quantize:
        lines.append(f"  {q['file']}: {q['bytes_before'] / 1e6:,.1f} MB → {q['bytes_after'] / 1e6:,.1f} MB "
                     f"in {q['seconds']:.1f} s")
    if report.lora:
        lines.append(lora_line(report.lora))
    lines += [f"warning: {w['issue']} — {w['advice']}" for w in report.warnings]
    lines.append(f"export {'passed' if report.passed else 'FAILED'} in {report.seconds} s"
                 + (f", with {len(report.warnings)} behaviour warning(s) about the trained model"
                    if report.warnings else ""))
    return "\n".join(lines)


def lora_line(lora: dict) -> str:
    """The LoRA GGUF's check (base + LoRA against the merged f16), one line, for the CLI and the TUI."""
    return (f"{lora['path']} on {lora['base']}: {'passed' if lora['passed'] else 'FAILED'}, argmax equal at "
            f"{lora['positions'] - lora['argmax_mismatches']}/{lora['positions']} positions, "
            f"max |Δ| vs merged {lora['max_abs_diff']:.4g}")
