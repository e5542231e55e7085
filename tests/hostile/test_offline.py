"""Offline first: with local inputs no hearth process — the CLI or any child it starts — reaches for the network,
not even with the test suite's offline variables removed; a hub model that cannot be reached fails at once."""

from __future__ import annotations

import os

from hostile_run import hearth

DATA = "\n".join('{"messages": [{"role": "user", "content": "你好%d"}, {"role": "assistant", "content": "你好呀～"}]}' % i
                 for i in range(8))


def test_train_export_verify_and_chat_with_local_inputs_open_no_connection(tiny_base_dir, tmp_path):
    home = tmp_path / "home"
    data = tmp_path / "chats.jsonl"
    data.write_text(DATA, encoding="utf-8")
    steps = {}
    trained = hearth(["train", "--base", str(tiny_base_dir), "--data", str(data), "--max-steps", "1",
                      "--set", "data.eval_fraction=0", "--set", "train.batch_size=2"], home)
    assert trained.returncode == 0, trained.stderr[-3000:]
    steps["train"] = trained
    (run,) = (home / "runs").iterdir()
    exported = hearth(["export", run.name, "--quant", "q8_0"], home)
    assert exported.returncode in (0, 1) and "export " in exported.stdout, exported.stderr[-3000:]  # 1: a check failed
    steps["export"] = exported
    f16, q8 = (next((run / "gguf").glob(f"*-{kind}.gguf")) for kind in ("f16", "q8_0"))
    verified = hearth(["verify", str(run / "merged"), str(f16)], home)
    assert verified.returncode in (0, 1) and "tokenizer parity" in verified.stdout, verified.stderr[-3000:]
    steps["verify"] = verified
    chatted = hearth(["chat", "--model", str(q8), "--max-tokens", "8"], home, stdin="你好\n")
    assert chatted.returncode == 0, chatted.stderr[-3000:]
    steps["chat"] = chatted
    assert {name: step.connections for name, step in steps.items()} == {name: [] for name in steps}


def test_a_hub_model_that_cannot_be_reached_fails_at_once_in_one_line(tmp_path):
    """The audit hook refuses every connection, as a machine without network does: one attempt, then one line
    (huggingface_hub on its own retries each file with back-off for over a minute)."""
    result = hearth(["train", "--base", "no-such-org/no-such-model", "--max-steps", "1"], tmp_path / "home",
                    env={"HF_HOME": str(tmp_path / "hf-cache")}, timeout=150)
    line = result.one_line_error()
    assert "cannot load base model 'no-such-org/no-such-model'" in line and "cannot be reached" in line
    assert len(result.connections) == 1, result.connections
    assert not (tmp_path / "home" / "runs").exists() or not any((tmp_path / "home" / "runs").iterdir())


def test_hearth_sets_its_environment_and_lifts_offline_mode_only_for_a_download(monkeypatch):
    from hearth import offline

    for key in offline.environment():
        monkeypatch.delenv(key, raising=False)
    offline.apply()
    assert {key: os.environ.get(key) for key in offline.environment()} == offline.environment()
    with offline.hub_access():
        assert "HF_HUB_OFFLINE" not in os.environ and os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"
    assert os.environ["HF_HUB_OFFLINE"] == "1"
