"""Losing data: a resume that cannot resume refuses (or falls back to the newest checkpoint that loads, saying so),
never training from step 0 over a finished adapter; replacing an export never removes the old one before the new
one is in place, and what killed exports leave behind is cleaned up by the next one."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hostile_run import hearth

DATA = "\n".join('{"messages": [{"role": "user", "content": "第%d次见面"}, {"role": "assistant", "content": "你好呀～"}]}' % i
                 for i in range(12))


def write_run(home: Path, tiny_base_dir: Path, *overrides: str) -> Path:
    from tuner.recipe import load_recipe

    run = home / "runs" / "r1"
    run.mkdir(parents=True)
    data = home.parent / "chats.jsonl"
    data.write_text(DATA, encoding="utf-8")
    recipe = load_recipe("tiny-offline", [f"model.base={tiny_base_dir}", "data.eval_fraction=0", "train.batch_size=2",
                                          "train.logging_steps=1", *overrides])
    recipe.data.files = [str(data)]
    (run / "recipe.yaml").write_text(recipe.to_yaml(), encoding="utf-8")
    return run


def metric_steps(run: Path) -> list[int]:
    lines = (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["step"] for line in lines if json.loads(line)["kind"] == "train"]


@pytest.mark.parametrize("checkpoints", ["none", "one emptied by a full disk"])
def test_resume_without_a_usable_checkpoint_refuses_and_keeps_the_finished_adapter(tiny_base_dir, tmp_path, checkpoints):
    home = tmp_path / "home"
    run = write_run(home, tiny_base_dir, "train.max_steps=1")
    (run / "adapter").mkdir()
    (run / "adapter" / "adapter_model.safetensors").write_bytes(b"the finished adapter")
    (run / "metrics.jsonl").write_text('{"kind": "train", "step": 30, "loss": 1.0}\n', encoding="utf-8")
    if checkpoints != "none":
        (run / "checkpoints" / "checkpoint-30").mkdir(parents=True)  # no trainer state, no weights
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    line = hearth(["train", "--resume", "r1"], home).one_line_error()
    assert "no checkpoint to resume from" in line and ("checkpoint-30" in line) == (checkpoints != "none")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before  # nothing changed


def test_resume_falls_back_to_the_newest_checkpoint_that_loads_and_says_so(tiny_base_dir, tmp_path):
    home = tmp_path / "home"
    run = write_run(home, tiny_base_dir, "train.max_steps=2", "train.save_steps=1")
    trained = hearth(["train", "--recipe", str(run / "recipe.yaml")], home)
    assert trained.returncode == 0, trained.stderr[-3000:]
    (run2,) = [p for p in (home / "runs").iterdir() if p.name != "r1"]
    weights = run2 / "checkpoints" / "checkpoint-2" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # the last save was cut short
    resumed = hearth(["train", "--resume", run2.name], home)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from checkpoint-1" in resumed.stdout and "checkpoint-2 cannot be loaded" in resumed.stdout
    assert metric_steps(run2) == [1, 2]  # step 2 trained again and logged once, not two runs' metrics mixed


def dead_pid() -> int:
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def test_replacing_an_export_never_loses_the_old_one_and_killed_exports_are_cleaned(tiny_base_dir, tmp_path):
    home = tmp_path / "home"
    run = write_run(home, tiny_base_dir)
    shutil.copytree(tiny_base_dir, run / "merged")
    (run / "gguf").mkdir()
    (run / "gguf" / "the-previous-export.txt").write_text("keep me", encoding="utf-8")
    stale = run / f".gguf.partial-{dead_pid()}"  # an export killed together with its child, long ago
    stale.mkdir()
    (stale / "r1-f16.gguf").write_bytes(b"half a file under its final name")

    killed = hearth([str(run)], home, module="kill_export_at_swap")
    assert killed.returncode == -9, killed.stderr[-3000:]
    kept = [p for p in run.rglob("the-previous-export.txt")]
    assert [p.read_text(encoding="utf-8") for p in kept] == ["keep me"]  # not removed before the new one was in
    from hearth.atomic import clean_leftovers

    clean_leftovers(run / "gguf")  # what the next write of gguf/ does first: the old copy comes back
    assert (run / "gguf" / "the-previous-export.txt").read_text(encoding="utf-8") == "keep me"

    exported = hearth(["export", "r1", "--quant", "f16"], home)
    assert exported.returncode in (0, 1) and "export " in exported.stdout, exported.stderr[-3000:]
    names = {p.name for p in (run / "gguf").iterdir()}
    assert {"r1-f16.gguf", "export.json"} <= names and "the-previous-export.txt" not in names
    assert [p.name for p in run.iterdir() if p.name.startswith(".")] == []  # no partial or old copy left


def test_export_into_a_read_only_run_folder_is_one_line(tiny_base_dir, tmp_path):
    home = tmp_path / "home"
    run = write_run(home, tiny_base_dir)
    shutil.copytree(tiny_base_dir, run / "merged")
    run.chmod(0o555)
    try:
        line = hearth(["export", "r1", "--quant", "f16"], home).one_line_error()
    finally:
        run.chmod(0o755)
    assert "permission denied" in line and str(run / "gguf") in line
    assert sorted(p.name for p in run.iterdir()) == ["merged", "recipe.yaml"]
