"""`hearth eval` end to end on a tiny run trained here: held-out loss on the training mask for base, tuned and a GGUF
of it, side-by-side replies, eval.json / eval.md; compare mode; bad input refused with exit 2 and nothing written."""

from __future__ import annotations

import json
import shutil

import pytest

from hearth.paths import RunPaths
from tests.tuner.test_train import CONVERSATIONS
from tuner.evaluate import EvalReport, evaluate_run, read_report
from tuner.evaluate.compare import compare_reports
from tui.cli import main

PERSONA = "你是林栀。"


@pytest.fixture(scope="module")
def trained_run(tiny_base_dir, tmp_path_factory) -> RunPaths:
    """A real tiny run (LoRA, 14 steps on the test_train conversations), merged, with an f16 GGUF of it."""
    from exporter.convert import convert_hf_to_gguf
    from tuner.merge import merge_run
    from tuner.recipe import load_recipe
    from tuner.train import run_training

    home = tmp_path_factory.mktemp("eval-home")
    data = home / "chats.jsonl"
    data.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in CONVERSATIONS), encoding="utf-8")
    recipe = load_recipe("tiny-offline", ["train.max_steps=14", "train.batch_size=4", "train.eval_steps=100",
                                          "train.save_steps=100", "data.eval_fraction=0.2"])
    recipe.data.files, recipe.model.base, recipe.system_prompt = [str(data)], str(tiny_base_dir), PERSONA
    run = RunPaths(home / "runs" / "linzhi")
    run.root.mkdir(parents=True)
    run.recipe.write_text(recipe.to_yaml(), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEARTH_HOME", str(home))
        run_training(run)
        merge_run(run)
    convert_hf_to_gguf(run.merged, run.gguf / "linzhi-f16.gguf", "f16")
    return run


@pytest.fixture(scope="module")
def report(trained_run) -> EvalReport:
    events = []
    result = evaluate_run(trained_run, prompts=3, quants=("f16",), seed=1, emit=lambda e, **f: events.append(e))
    assert events.count("saved") == 2 and "stage" in events
    return result


def test_eval_of_a_trained_run_measures_base_tuned_and_gguf(report, trained_run):
    assert report.sides == ["base", "tuned", "f16"]
    assert json.loads((trained_run.root / "eval" / "eval.json").read_text(encoding="utf-8")) == report.to_json()
    assert read_report(trained_run.root) == report
    base, tuned, f16 = (report.loss[s] for s in report.sides)
    assert tuned["loss"] < base["loss"] and report.verdict["loss_lower"]
    assert tuned["tokens"] == base["tokens"] == f16["tokens"] > 0  # the same assistant tokens on every side
    assert abs(f16["perplexity_vs_tuned"]) < 0.01  # a faithful f16 file costs nothing
    names = {row["name"] for row in report.measures}
    assert {"ends_by_itself", "speaks_for_user", "identity_slips", "language_match", "repetition", "length",
            "style"} <= names and "tarot_cards" not in names
    stops = report.measure("ends_by_itself")
    assert stops["data"] == 1.0 and set(stops["values"]) == {"base", "tuned", "f16"}
    assert report.verdict["of"] >= 1 and "tuned closer to the data on" in report.verdict["line"]
    assert len(report.samples) == 3
    for sample in report.samples:
        assert sample["reference"].startswith("你好呀") and sample["messages"][0]["content"] == PERSONA
        assert set(sample["replies"]) == {"base", "tuned", "f16"}
        assert all(reply["tokens"] <= report.settings["max_new_tokens"] for reply in sample["replies"].values())


def test_eval_md_is_the_side_by_side(report, trained_run):
    text = (trained_run.root / "eval" / "eval.md").read_text(encoding="utf-8")
    assert text.startswith(f"# Eval of run {trained_run.root.name}")
    assert "| held-out loss |" in text and "**reference (the data)**" in text and "## Prompt 3" in text
    assert report.samples[0]["replies"]["tuned"]["text"].splitlines()[0] in text
    assert "- **style (chrF)**: character 1–3-gram F-score" in text


def test_the_same_seed_asks_the_same_prompts(report, trained_run):
    again = evaluate_run(trained_run, prompts=3, sides=("tuned",), seed=1, write=False, loss_tokens=1)
    assert again.loss["tuned"]["conversations"] == 1  # a token budget smaller than one conversation reads one
    assert [s["messages"] for s in again.samples] == [s["messages"] for s in report.samples]
    assert [s["replies"]["tuned"] for s in again.samples] == [s["replies"]["tuned"] for s in report.samples]


def test_a_prompts_file_replaces_the_held_out_data(trained_run, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"prompt": "今天喝什么茶？", "reference": "来一杯桂花乌龙吧。", "system": PERSONA},
                                  ensure_ascii=False) + "\n" + json.dumps({"messages": [
                                      {"role": "user", "content": "第99次见面，你好"}]}, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    result = evaluate_run(trained_run, prompts=5, prompts_file=prompts, max_new_tokens=12, write=False)
    assert result.source == str(prompts) and len(result.samples) == 2
    assert result.loss["tuned"]["conversations"] == 1  # only the prompt with a reference is scored
    assert result.samples[1]["reference"] == "" and result.settings["max_new_tokens"] == 12


def test_each_reply_gets_twice_its_own_reference_as_budget_unless_max_tokens_fixes_one(trained_run, tiny_base_dir,
                                                                                       tmp_path):
    """A tarot reading and a one-line chat reply in one eval: the reading is not cut at the chat's budget (nor
    at the old 160-token ceiling, under the sample readings' length), and the chat reply gets no reading's room."""
    from tuner.evaluate.generate import MAX_REPLY_TOKENS, MIN_REPLY_TOKENS, reply_budgets
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base_dir)
    reading, line = "The Hermit, upright, in the past: " * 12, "来一杯桂花乌龙吧。"
    long_budget, short_budget = reply_budgets(tokenizer, [reading, line], None)
    assert long_budget == min(MAX_REPLY_TOKENS, 2 * len(tokenizer(reading, add_special_tokens=False)["input_ids"]))
    assert long_budget > 160 and short_budget == MIN_REPLY_TOKENS
    assert reply_budgets(tokenizer, [reading, line], 20) == [20, 20]

    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("\n".join(json.dumps({"prompt": p, "reference": r, "system": PERSONA}, ensure_ascii=False)
                                 for p, r in (("读一下我的牌", reading), ("今天喝什么茶？", line))), encoding="utf-8")
    result = evaluate_run(trained_run, prompts=2, prompts_file=prompts, sides=("tuned",), write=False)
    assert result.settings["per_reference"] and result.settings["max_new_tokens"] == long_budget
    assert [s["budget"] for s in result.samples] == [long_budget, short_budget]
    assert all(s["replies"]["tuned"]["tokens"] <= s["budget"] for s in result.samples)


def test_compare_sets_two_runs_side_by_side(report, trained_run, tmp_path):
    """Run B is run A with its adapter undone: training moved nothing, so A is nearer its data."""
    import torch
    from safetensors.torch import load_file, save_file

    other = RunPaths(tmp_path / "untrained")
    for part in ("recipe.yaml", "heldout.jsonl", "data-report.json"):
        (other.root / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(trained_run.root / part, other.root / part)
    shutil.copytree(trained_run.adapter, other.adapter)
    weights = other.adapter / "adapter_model.safetensors"
    save_file({k: torch.zeros_like(v) if "lora_B" in k else v for k, v in load_file(weights).items()}, weights)
    second = evaluate_run(other, prompts=3, seed=1)  # the same prompts and budgets as run A's
    assert second.loss["tuned"]["loss"] == pytest.approx(second.loss["base"]["loss"], abs=1e-4)
    comparison = compare_reports(report, second)
    assert comparison["loss_drop"]["a"] > 0.5 and abs(comparison["loss_drop"]["b"]) < 1e-3
    assert comparison["wins"]["a"] > comparison["wins"]["b"]
    assert comparison["line"].startswith("linzhi nearer its data on")
    from rich.console import Console

    from tui.eval_view import compare_table

    console = Console(width=140, record=True)
    console.print(compare_table(comparison))
    assert "loss drop from training" in console.export_text()


def test_cli_eval_runs_the_child_and_prints_the_table(trained_run, capsys):
    """--quant q8_0 on a run exported only as f16: the quantization is made for the eval, from the f16 file."""
    assert main(["eval", str(trained_run.root), "-n", "1", "--max-tokens", "8", "--seed", "3", "--quant", "q8_0"]) == 0
    out = capsys.readouterr().out
    assert "held-out loss" in out and "ends by itself" in out and "prompt 1:" in out and "tuned" in out
    written = read_report(trained_run.root)
    assert written.settings == {"max_new_tokens": 8, "temperature": 0.7, "top_p": 0.9, "seed": 3, "per_reference": False}
    assert written.sides == ["base", "tuned", "q8_0"] and (trained_run.root / "eval" / "linzhi-q8_0.gguf").is_file()
    assert abs(written.loss["q8_0"]["perplexity_vs_tuned"]) < 0.05


def _bad(tmp, trained_run):
    def without(name):
        copy = tmp / f"no-{name}"
        shutil.copytree(trained_run.root, copy, ignore=shutil.ignore_patterns("checkpoints", "merged", "gguf", "eval"))
        if (copy / name).is_file():
            (copy / name).unlink()
        return str(copy)

    def prompts(text):
        path = tmp / f"prompts-{len(list(tmp.glob('prompts-*')))}.jsonl"
        path.write_text(text, encoding="utf-8")
        return str(path)

    return [
        (["eval", "no-such-run"], "no run named 'no-such-run'"),
        (["eval", without("heldout.jsonl")], "has no held-out conversations"),
        (["eval", str(trained_run.root), "--prompts", prompts('{"prompt": "hi"}\n{oops\n')], "prompts-0.jsonl:2: not valid JSON"),
        (["eval", str(trained_run.root), "--prompts", prompts('{"messages": [{"role": "assistant", "content": "x"}]}\n')],
         "prompts-1.jsonl:1: the messages must end with a user turn"),
        (["eval", str(trained_run.root), "--prompts", prompts("\n")], "the prompts file has no prompts"),
        (["eval", without("gguf"), "--quant", "q4_k_m"], "has no q4_k_m GGUF"),
        (["eval", str(trained_run.root), "-n", "0"], "-n must be at least 1"),
        (["eval"], "name a run to evaluate"),
        (["eval", "x", "--compare", "a", "b"], "not both"),
    ]


def test_bad_input_is_one_line_exit_2_and_writes_nothing(report, trained_run, tmp_path, capsys):
    before = (trained_run.root / "eval" / "eval.json").stat().st_mtime_ns
    for args, message in _bad(tmp_path, trained_run):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2, (args, err)
    assert (trained_run.root / "eval" / "eval.json").stat().st_mtime_ns == before
    assert not (tmp_path / "no-heldout.jsonl" / "eval").exists()
