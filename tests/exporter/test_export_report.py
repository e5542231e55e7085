"""export.json is ExportReport.to_json(): its keys in the order they have always had, a check that does not apply to a
file left out (not null), and from_json() reads back what to_json() wrote, from disk or from the child's done event."""

from __future__ import annotations

import json

from exporter.export import read_report
from exporter.export_report import ExportReport, FileReport
from hearth.paths import RunPaths

STOP = {"passed": True, "finish_reason": "stop", "end_of_turn": "<|im_end|>"}
PASSED = {"passed": True}


def _report(lora: dict | None = None) -> ExportReport:
    f16 = FileReport("r-f16.gguf", "f16", specials=PASSED, tokenizer=PASSED, logits=PASSED, stop=STOP)
    q8 = FileReport("r-q8_0.gguf", "q8_0", specials=PASSED, tokenizer=PASSED, perplexity={"increase": 0.01},
                    stop=STOP, behaviour=[{"issue": "loops", "advice": "less"}])
    for file in (f16, q8):
        file.passed = file.checked()
    return ExportReport("r", "2026-12-02T08:00:00+00:00", [f16, q8], [{"file": "r-q8_0.gguf", "bytes_after": 9}],
                        lora=lora, ollama="ollama create r", passed=True, warnings=q8.behaviour, seconds=1.5)


def test_the_file_keeps_its_keys_and_leaves_out_what_does_not_apply():
    written = _report().to_json()
    assert list(written) == ["run", "created", "files", "quantize", "ollama", "passed", "warnings", "seconds"]
    assert [list(f) for f in written["files"]] == [
        ["file", "type", "specials", "tokenizer", "logits", "stop", "behaviour", "passed"],
        ["file", "type", "specials", "tokenizer", "perplexity", "stop", "behaviour", "passed"]]
    assert list(_report(lora={"path": "r-lora.gguf", "passed": True}).to_json())[4] == "lora"


def test_what_is_written_reads_back_the_same():
    report = _report(lora={"path": "r-lora.gguf", "passed": True})
    assert ExportReport.from_json(json.loads(json.dumps(report.to_json()))) == report


def test_a_failed_check_fails_the_file():
    file = FileReport("r-f16.gguf", "f16", specials=PASSED, tokenizer={"passed": False}, stop=STOP)
    assert not file.checked() and FileReport("x.gguf", "q4_k_m", perplexity={"increase": 9.0}).checked()


def test_an_export_json_of_another_shape_is_no_report(tmp_path):
    run = RunPaths(tmp_path / "run")
    run.gguf.mkdir(parents=True)
    for text in ("not json", "[]", '{"files": 3}', '{"files": ["x"]}'):
        (run.gguf / "export.json").write_text(text, encoding="utf-8")
        assert read_report(run) is None, text
    (run.gguf / "export.json").write_text(json.dumps(_report().to_json()), encoding="utf-8")
    assert read_report(run) == _report()
