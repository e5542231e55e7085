"""Two verdicts: fidelity (the GGUF behaves like the trained model, stopping included) decides pass/fail and the
exit code; the trained model's own behaviour (it never stops, loops, slips identity) is a warning with advice."""

from __future__ import annotations

import json
import shutil

import pytest

from exporter.behaviour import behaviour_warnings
from exporter.convert import convert_hf_to_gguf
from exporter.verify import verify_gguf
from tests.exporter.conftest import SYSTEM_PROMPT
from tui.cli import main


@pytest.fixture
def never_stopping_run(tiny_base_dir, hearth_home):
    """A finished run whose model (the untrained tiny base) never writes its end-of-turn token."""
    run = hearth_home / "runs" / "babbler"
    shutil.copytree(tiny_base_dir, run / "merged")
    (run / "recipe.yaml").write_text(f"name: babbler\nsystem_prompt: {SYSTEM_PROMPT}\n", encoding="utf-8")
    return run


def test_a_faithful_file_of_a_model_that_never_stops_exports_with_a_warning(never_stopping_run, capsys):
    assert main(["export", "babbler", "--quant", "f16"]) == 0
    out = capsys.readouterr().out
    report = json.loads((never_stopping_run / "gguf" / "export.json").read_text(encoding="utf-8"))
    (f16,) = report["files"]
    assert report["passed"] and f16["passed"]
    assert f16["stop"]["finish_reason"] == "length" and f16["stop"]["hf_finish_reason"] == "length"
    assert f16["stop"]["passed"]  # the file stops where the model does: never
    issues = [w["issue"] for w in report["warnings"]]  # greedy babble also tends to loop: a second warning
    assert issues[0] == "the trained model does not end its turn within 128 tokens"
    assert "end_of_turn_token" in report["warnings"][0]["advice"]
    assert "warning: the trained model does not end its turn" in out and "export passed" in out


def test_an_unfaithful_file_fails_verification_and_exits_1(qwen2_dir, tiny_base_dir, tmp_path, capsys):
    """The untaught base's GGUF checked against the taught model: same tokenizer, other weights."""
    wrong = convert_hf_to_gguf(tiny_base_dir, tmp_path / "wrong-f16.gguf", "f16")
    report = verify_gguf(qwen2_dir, wrong)
    assert report.tokenizer["passed"] and not report.logits["passed"]
    assert not report.stop["passed"]  # the model stops, the file does not
    assert report.stop["hf_finish_reason"] == "stop" and not report.passed
    assert report.behaviour == []  # the trained model itself behaves
    assert main(["verify", str(qwen2_dir), str(wrong)]) == 1
    assert "parity FAILED" in capsys.readouterr().out


BEHAVIOUR = [
    ({"hf_finish_reason": "stop", "hf_completion_tokens": 9, "hf_reply": "I am well, thank you."}, []),
    ({"hf_finish_reason": "stop", "hf_completion_tokens": 60, "hf_reply": "I am fine. " * 10}, ["repeats itself"]),
    ({"hf_finish_reason": "stop", "hf_completion_tokens": 12, "hf_reply": "I am an AI assistant made by Qwen."},
     ["base model or an AI assistant"]),
    ({"hf_finish_reason": "stop", "hf_completion_tokens": 12, "hf_reply": "Sure.\nUser: and you?"},
     ["writes the user's turn"]),
]


@pytest.mark.parametrize("stop,issues", BEHAVIOUR)
def test_behaviour_warnings_name_what_the_reply_does(stop, issues):
    found = [w["issue"] for w in behaviour_warnings(stop, SYSTEM_PROMPT)]
    assert len(found) == len(issues) and all(want in got for want, got in zip(issues, found))
