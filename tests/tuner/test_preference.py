"""Preference training end to end on the tiny base: an SFT run, then DPO and KTO runs started from it through
`hearth train --method dpo|kto --from RUN` — real TRL trainers with PEFT in the training child — that raise the
held-out chosen-over-rejected margin, resume after kill -9, merge and export; and bad input refused with exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from hearth.paths import RunPaths
from tui.cli import main

SYSTEM = {"role": "system", "content": "你是林栀，一家茶馆的店主。"}
WARM = ["来一杯桂花乌龙吧～", "试试我刚泡的白毫银针呀。", "今天适合喝一杯热热的红茶～", "我给你留了一壶茉莉花茶。"]
COLD = ["不知道。", "随便。", "自己看菜单。", "没空。"]


def pair(i: int) -> dict:
    prompt = [SYSTEM, {"role": "user", "content": f"第{i}次来店里，今天喝点什么好？"}]
    return {"prompt": prompt, "chosen": [{"role": "assistant", "content": WARM[i % 4]}],
            "rejected": [{"role": "assistant", "content": COLD[i % 4]}]}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def pairs_file(tmp_path):
    return write_jsonl(tmp_path / "pairs.jsonl", [pair(i) for i in range(40)])


@pytest.fixture
def sft_run(installed_tiny_base, hearth_home, tmp_path) -> RunPaths:
    chats = [{"messages": [SYSTEM, {"role": "user", "content": f"你好，第{i}次见面"},
                           {"role": "assistant", "content": WARM[i % 4]}]} for i in range(12)]
    data = write_jsonl(tmp_path / "chats.jsonl", chats)
    assert main(["train", "--data", str(data), "--max-steps", "2", "--set", "train.batch_size=4"]) == 0
    (root,) = (hearth_home / "runs").iterdir()
    return RunPaths(root)


def preference_runs(hearth_home, sft: RunPaths) -> list[RunPaths]:
    return [RunPaths(p) for p in sorted((hearth_home / "runs").iterdir()) if p != sft.root]


def margin_of(model_dir, rows):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuner.preference.margin import preference_margin

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    return preference_margin(model, AutoTokenizer.from_pretrained(model_dir), rows)


def test_dpo_from_an_sft_run_raises_the_held_out_margin_then_merges(sft_run, hearth_home, pairs_file):
    args = ["train", "--method", "dpo", "--from", sft_run.root.name, "--data", str(pairs_file), "--max-steps", "12",
            "--learning-rate", "5e-3", "--set", "train.batch_size=4", "--set", "train.logging_steps=1",
            "--set", "data.eval_fraction=0.2"]
    assert main(args) == 0
    (dpo,) = preference_runs(hearth_home, sft_run)
    assert sft_run.merged.is_dir()  # started from its merged model, merged on the way
    recipe = dpo.recipe.read_text(encoding="utf-8")
    assert f"base: {sft_run.merged}" in recipe and "method: dpo" in recipe and dpo.root.name.startswith("tiny-offline-dpo-")
    assert "learning_rate: 0.005" in recipe  # the one given, not a tenth of it
    report = json.loads(dpo.data_report.read_text(encoding="utf-8"))
    assert report["method"] == "dpo" and report["pairs"] == 40 and report["eval_rows"] == 8
    steps = [json.loads(line) for line in dpo.metrics.read_text(encoding="utf-8").splitlines()]
    assert [m["step"] for m in steps if m["kind"] == "train"] == list(range(1, 13))
    evals = [m for m in steps if m["kind"] == "eval"]
    assert evals and all("reward_margin" in m and 0 <= m["reward_accuracy"] <= 1 for m in evals)
    assert evals[-1]["reward_margin"] > 0  # the implicit reward already prefers the held-out chosen replies
    held_out = [json.loads(line) for line in dpo.heldout_preferences.read_text(encoding="utf-8").splitlines()]
    assert len(held_out) == 8 and all(r["chosen"].endswith("<|im_end|>") for r in held_out)
    assert len(dpo.heldout.read_text(encoding="utf-8").splitlines()) == 8  # prompt + chosen, for `hearth eval`

    assert main(["merge", dpo.root.name]) == 0
    before, after = margin_of(sft_run.merged, held_out), margin_of(dpo.merged, held_out)
    # The warm replies are longer than the cold ones, so their summed log-probability starts far below; DPO
    # closes much of that gap on pairs it never trained on.
    assert after.margin > before.margin + 10, (before, after)


def test_eval_of_a_dpo_run_shows_the_margin_against_the_run_it_started_from(sft_run, hearth_home, pairs_file, capsys):
    from tuner.evaluate import evaluate_run

    assert main(["train", "--method", "dpo", "--from", sft_run.root.name, "--data", str(pairs_file), "--max-steps",
                 "6", "--learning-rate", "5e-3", "--set", "train.batch_size=4"]) == 0
    (dpo,) = preference_runs(hearth_home, sft_run)
    report = evaluate_run(dpo, prompts=1, max_new_tokens=4)
    assert report.started_from == str(sft_run.root) and report.base == str(sft_run.merged)
    assert set(report.preference) == {"base", "tuned"} and report.preference["tuned"]["rows"] == 4
    assert report.verdict["margin_higher"] is True and "chosen-over-rejected margin" in report.verdict["line"]
    markdown = (dpo.root / "eval" / "eval.md").read_text(encoding="utf-8")
    assert "| preference margin |" in markdown and "its base side is the tuned model of" in markdown

    # --compare SFT DPO: the SFT run's tuned model is the DPO run's base side, so its margin is known too.
    from tuner.evaluate.compare import compare_reports
    from tui.eval_view import compare_table

    comparison = compare_reports(evaluate_run(sft_run, prompts=1, max_new_tokens=4), report)
    assert comparison["margin"] == {"a": report.preference["base"], "b": report.preference["tuned"]}
    assert "chosen-over-rejected margin" in comparison["line"]
    from rich.console import Console

    console = Console(width=160, record=True)
    console.print(compare_table(comparison))
    text = console.export_text()
    assert "preference margin" in text and f"{report.preference['tuned']['margin']:+.2f}" in text


def test_kto_trains_on_rated_tarot_readings_and_on_pairs(sft_run, hearth_home, tmp_path, capsys):
    from companion.preferences import unpaired_row

    prompt = [{"role": "user", "content": "作为专业塔罗师，请为以下咨询提供解读：\n\n问题：工作\n抽到的牌：星星(正位)"}]
    readings = [unpaired_row(prompt, f"星星正位代表希望，第{i}次抽到它说明转机将至。", 5) for i in range(6)]
    readings += [unpaired_row(prompt, f"不好说{i}。", 1) for i in range(6)]
    rated = write_jsonl(tmp_path / "rated.jsonl", readings)
    both = [str(rated), str(write_jsonl(tmp_path / "pairs.jsonl", [pair(i) for i in range(4)]))]
    assert main(["train", "--method", "kto", "--from", sft_run.root.name, "--data", *both, "--max-steps", "3",
                 "--set", "train.batch_size=4", "--set", "data.eval_fraction=0"]) == 0
    (kto,) = preference_runs(hearth_home, sft_run)
    report = json.loads(kto.data_report.read_text(encoding="utf-8"))
    assert report["method"] == "kto" and report["desirable"] == 6 + 4 and report["undesirable"] == 6 + 4
    assert report["train_rows"] == 12 + 8  # each pair gave a desirable and an undesirable row
    assert (kto.adapter / "adapter_model.safetensors").exists()
    capsys.readouterr()
    assert main(["runs"]) == 0
    listed = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in capsys.readouterr().out.splitlines()
              if line.startswith("│")}
    assert listed == {sft_run.root.name: "sft", kto.root.name: "kto"}


def test_data_check_says_what_dpo_or_kto_would_train_on(installed_tiny_base, pairs_file, tmp_path, capsys):
    rated = write_jsonl(tmp_path / "rated.jsonl", [
        {"prompt": pair(i)["prompt"], "completion": pair(i)["chosen"], "label": i % 3 != 0} for i in range(9)])
    assert main(["data", "check", str(pairs_file)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "preference data: 40 pairs for DPO (0 rows it could not use)" in out and "--method dpo" in out
    assert main(["data", "check", str(rated), str(pairs_file)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "preference data: 46 desirable and 43 undesirable replies for KTO" in out, out


def test_rendered_rows_are_the_text_chat_and_sft_train_on(installed_tiny_base):
    from transformers import AutoTokenizer

    from tuner.chat_render import render_chat
    from tuner.preference.rows import render_row
    from tuner.recipe import load_recipe

    tokenizer = AutoTokenizer.from_pretrained(installed_tiny_base)
    row = pair(3)
    rendered = render_row(row, tokenizer, load_recipe("tiny-offline"), "<|im_end|>")
    assert rendered.prompt == render_chat(tokenizer, row["prompt"], add_generation_prompt=True)
    chosen, rejected = (text for text, _ in rendered.replies)
    full = render_chat(tokenizer, row["prompt"] + row["chosen"])
    assert full.startswith(rendered.prompt + chosen) and chosen == WARM[3] + "<|im_end|>"
    assert rejected == COLD[3] + "<|im_end|>" and [label for _, label in rendered.replies] == [True, False]


def read_events(process):
    for line in process.stdout:
        yield json.loads(line)


@pytest.mark.parametrize("method", ["dpo", "kto"])
def test_a_preference_run_resumes_after_kill_9_merges_and_exports(sft_run, hearth_home, pairs_file, capsys, method):
    from tuner.runs import RunRequest, create_run

    run = create_run(RunRequest(method=method, start_from=sft_run.root.name, data=[str(pairs_file)], max_steps=6,
                                overrides=["train.save_steps=2", "train.logging_steps=1", "train.batch_size=2",
                                           "train.eval_steps=2"]))
    from tuner.recipe import load_recipe

    assert load_recipe(str(run.recipe)).train.learning_rate == pytest.approx(0.002 * 0.1)  # a tenth of the SFT run's
    child = [sys.executable, "-m", "tuner", "train", str(run.root)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(child, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    for event in read_events(first):
        if event["event"] == "saved" and event["step"] >= 2:
            first.send_signal(signal.SIGKILL)
            break
    first.wait()
    assert first.returncode == -signal.SIGKILL and not run.adapter.exists()
    second = subprocess.run([*child, "--resume"], capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0, second.stderr[-2000:]
    steps = [e["step"] for e in map(json.loads, second.stdout.splitlines()) if e["event"] == "step"]
    assert steps[0] == 3 and steps[-1] == 6  # from checkpoint-2, not from zero
    capsys.readouterr()
    assert main(["export", run.root.name, "--quant", "q8_0"]) == 0
    assert sorted(p.name.rsplit("-", 1)[-1] for p in run.gguf.glob("*.gguf")) == ["f16.gguf", "q8_0.gguf"]
    assert "probes identical" in capsys.readouterr().out


BAD_INPUT = [
    (lambda run, tmp: ["--method", "dpo", "--data", str(write_jsonl(tmp / "c.jsonl", [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]))],
     "this is messages data, which DPO does not train on"),
    (lambda run, tmp: ["--method", "dpo", "--data", str(write_jsonl(tmp / "k.jsonl", [
        {"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "assistant", "content": "yo"}],
         "label": True}]))], "this is kto data, which DPO does not train on"),
    (lambda run, tmp: ["--method", "kto", "--set", "train.batch_size=1", "--data", str(tmp / "pairs.jsonl")],
     "train.batch_size must be at least 2"),
    (lambda run, tmp: ["--method", "dpo", "--data", str(write_jsonl(tmp / "same.jsonl", [
        {**pair(1), "rejected": pair(1)["chosen"]}]))], "same.jsonl:1: preference: 'chosen' and 'rejected' are the same"),
    (lambda run, tmp: ["--method", "dpo", "--data", str(write_jsonl(tmp / "empty.jsonl", [
        {**pair(1), "prompt": []}]))], "empty.jsonl:1: preference: 'prompt' must be a non-empty list"),
    (lambda run, tmp: ["--method", "sft", "--data", str(tmp / "pairs.jsonl")],
     "this is preference data, which SFT does not train on"),
    (lambda run, tmp: ["--set", "train.save_steps=3", "--set", "train.eval_steps=2", "--data", str(tmp / "pairs.jsonl")],
     "train.save_steps must be a multiple of train.eval_steps"),
]


@pytest.mark.parametrize("make_args,message", BAD_INPUT)
def test_bad_preference_input_is_one_line_and_exit_2_with_no_run_left(sft_run, hearth_home, tmp_path, pairs_file,
                                                                      capsys, make_args, message):
    capsys.readouterr()
    code = main(["train", "--from", sft_run.root.name, *make_args(sft_run, tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in " ".join(err.split()) and "Traceback" not in err
    assert preference_runs(hearth_home, sft_run) == []


def test_starting_from_a_run_that_is_missing_or_untrained_is_refused(installed_tiny_base, hearth_home, pairs_file,
                                                                    capsys):
    from tuner.recipe import load_recipe
    from tuner.runs import new_run

    assert main(["train", "--method", "dpo", "--from", "no-such-run", "--data", str(pairs_file)]) == 2
    assert "no run named 'no-such-run'" in capsys.readouterr().err
    untrained = new_run(load_recipe("tiny-offline"))
    assert main(["train", "--method", "dpo", "--from", untrained.root.name, "--data", str(pairs_file)]) == 2
    assert "has no adapter yet" in capsys.readouterr().err
