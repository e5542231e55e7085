"""Training end to end on the tiny base: a real TRL + PEFT run in a child process, resume after kill -9,
merge equivalence, and bad input refused with exit 2 before any run exists."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from hearth.paths import RunPaths
from tui.cli import main

CONVERSATIONS = [
    {"messages": [{"role": "system", "content": "你是林栀。"}, {"role": "user", "content": f"第{i}次见面，你好"},
                  {"role": "assistant", "content": f"你好呀，这是我们第{i}次聊天～"}, {"role": "user", "content": "今天喝什么茶？"},
                  {"role": "assistant", "content": "来一杯桂花乌龙吧。"}]}
    for i in range(24)
]


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "chats.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in CONVERSATIONS), encoding="utf-8")
    return path


def only_run(hearth_home) -> RunPaths:
    (run,) = sorted((hearth_home / "runs").iterdir())
    return RunPaths(run)


def train_args(data_file, *extra):
    return ["train", "--data", str(data_file), "--set", "train.batch_size=4", "--set", "train.logging_steps=1", *extra]


def test_train_then_merge_produces_adapter_metrics_and_merged_model(installed_tiny_base, hearth_home, data_file, capsys):
    assert main(train_args(data_file, "--max-steps", "4", "--set", "train.eval_steps=2", "--set", "train.save_steps=2")) == 0
    run = only_run(hearth_home)
    assert (run.adapter / "adapter_model.safetensors").exists()
    assert "max_steps: 4" in run.recipe.read_text(encoding="utf-8")
    metrics = [json.loads(line) for line in run.metrics.read_text(encoding="utf-8").splitlines()]
    assert [m["step"] for m in metrics if m["kind"] == "train"] == [1, 2, 3, 4]
    assert any(m["kind"] == "eval" for m in metrics)
    assert all(m["tokens_per_s"] > 0 for m in metrics if m["kind"] == "train")
    report = json.loads(run.data_report.read_text(encoding="utf-8"))
    assert report["rows_kept"] == 24 and report["eval_rows"] >= 1 and report["end_of_turn_token"] == "<|im_end|>"
    assert len(run.heldout.read_text(encoding="utf-8").splitlines()) == report["eval_rows"]

    assert main(["merge", run.root.name]) == 0
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(run.merged)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert GenerationConfig.from_pretrained(run.merged).eos_token_id == im_end
    assert AutoConfig.from_pretrained(run.merged).eos_token_id == im_end
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template


def test_merged_logits_equal_base_plus_adapter(installed_tiny_base, hearth_home, tmp_path):
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hearth.atomic import write_text
    from tuner.merge import merge_run
    from tuner.recipe import load_recipe

    run = RunPaths(tmp_path / "run")
    run.root.mkdir()
    write_text(run.recipe, load_recipe("tiny-offline").to_yaml())
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(installed_tiny_base),
                           LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"]))
    for name, param in model.named_parameters():
        if "lora_B" in name:  # a trained-looking adapter, not the zero init
            torch.nn.init.normal_(param, std=0.05)
    model.save_pretrained(run.adapter)
    AutoTokenizer.from_pretrained(installed_tiny_base).save_pretrained(run.adapter)
    merge_run(run)

    ids = torch.tensor([[5, 17, 300, 41, 999, 7, 12]])
    with torch.no_grad():
        adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(installed_tiny_base), run.adapter)
        expected = adapted(ids).logits
        merged = AutoModelForCausalLM.from_pretrained(run.merged)(ids).logits
        base = AutoModelForCausalLM.from_pretrained(installed_tiny_base)(ids).logits
    assert not torch.allclose(base, expected, atol=1e-3)  # the adapter changes the model...
    torch.testing.assert_close(merged, expected, atol=1e-4, rtol=1e-4)  # ...and the merge keeps that change


def read_events(process):
    for line in process.stdout:
        yield json.loads(line)


def test_resume_after_kill_continues_the_step_count(installed_tiny_base, hearth_home, data_file):
    from tuner.runs import new_run
    from tuner.recipe import load_recipe

    recipe = load_recipe("tiny-offline", ["train.max_steps=8", "train.save_steps=2", "train.eval_steps=2",
                                          "train.logging_steps=1", "train.batch_size=2"])
    recipe.data.files = [str(data_file)]
    run = new_run(recipe)
    child = [sys.executable, "-m", "tuner", "train", str(run.root)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    first = subprocess.Popen(child, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    for event in read_events(first):
        if event["event"] == "saved" and event["step"] >= 4:
            first.send_signal(signal.SIGKILL)  # no chance to clean up
            break
    first.wait()
    assert first.returncode == -signal.SIGKILL and not run.adapter.exists()
    second = subprocess.run([*child, "--resume"], capture_output=True, text=True, env=env, timeout=300)
    events = [json.loads(line) for line in second.stdout.splitlines()]
    steps = [e["step"] for e in events if e["event"] == "step"]
    assert second.returncode == 0, second.stderr[-2000:]
    assert steps[0] == 5 and steps[-1] == 8  # continued from checkpoint-4, not from zero
    assert (run.adapter / "adapter_model.safetensors").exists()


BAD_INPUT = [
    (lambda tmp: ["train", "--data", str(tmp / "nope.jsonl")], "no such file or directory"),
    (lambda tmp: ["train", "--data", str(_write(tmp / "e.jsonl", ""))], "no valid rows"),
    (lambda tmp: ["train", "--data", str(_write(tmp / "a.jsonl", '{"instruction": "x", "output": "y"}')), "--format", "messages"],
     "no valid rows"),
    (lambda tmp: ["train", "--recipe", str(_write(tmp / "r.yaml", "train:\n  learning_rat: 0.1\n"))], "unknown field 'train.learning_rat'"),
    (lambda tmp: ["train", "--recipe", "no-such-recipe"], "no recipe 'no-such-recipe'"),
    (lambda tmp: ["train", "--set", "lora.qlora=true"], "needs a CUDA GPU"),
    (lambda tmp: ["data", "check", str(tmp / "nope.jsonl")], "no such file or directory"),
    (lambda tmp: ["merge", "no-such-run"], "no run named 'no-such-run'"),
]


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("make_args,message", BAD_INPUT)
def test_bad_input_is_one_line_and_exit_2_with_no_run_left(tmp_path, hearth_home, capsys, make_args, message):
    if "needs a CUDA GPU" in message and torch.cuda.is_available():
        pytest.skip("QLoRA is allowed with CUDA")
    assert main(make_args(tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err
    assert len(err.splitlines()) == 1 or err.count("error:") == 1
    assert not (hearth_home / "runs").exists() or not any((hearth_home / "runs").iterdir())


def test_a_base_the_child_cannot_load_leaves_no_run_behind(hearth_home, data_file, capsys):
    """Only the child can find out that a named hub model is not reachable offline."""
    assert main(train_args(data_file, "--base", "no-such-org/no-such-model", "--max-steps", "1")) == 2
    err = capsys.readouterr().err
    assert "cannot load base model 'no-such-org/no-such-model'" in err and "Traceback" not in err
    assert not any((hearth_home / "runs").iterdir())


def test_data_check_reports_rejections_and_lengths(installed_tiny_base, tmp_path, capsys, data_file):
    bad = _write(tmp_path / "mixed.jsonl", data_file.read_text(encoding="utf-8") + '\n{"messages": []}\n')
    report_path = tmp_path / "report.json"
    assert main(["data", "check", str(bad), "--report", str(report_path)]) == 0
    out = capsys.readouterr().out
    assert "24 rows kept, 1 rejected" in out and "mixed.jsonl:25" in out
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["token_length"]["p50"] > 10 and report["rejected"][0]["line"] == 25


def test_embedding_modules_to_save_warns_about_gguf_lora():
    from tuner.recipe import embedding_warning, load_recipe

    assert embedding_warning(load_recipe("tiny-offline")) is None
    warning = embedding_warning(load_recipe("tiny-offline", ["lora.modules_to_save=[embed_tokens, lm_head]"]))
    assert "cannot become a GGUF LoRA" in warning


@pytest.mark.parametrize("fast", ["off", "on"])
def test_ddp_two_cpu_processes_on_gloo(fast, installed_tiny_base, hearth_home, data_file, monkeypatch, capsys):
    """`hearth train --processes 2`: the same child under torchrun, one event stream, one adapter, data split in two."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert main(train_args(data_file, "--processes", "2", "--max-steps", "2", "--set", "train.batch_size=2",
                           "--set", "train.save_steps=2", "--set", "train.eval_steps=2",
                           "--set", f"fast.enabled={fast}")) == 0
    run = only_run(hearth_home)
    out = capsys.readouterr().out
    assert out.count("checkpoint-2") == 1 and "adapter saved" in out  # rank 0 speaks, once
    assert (run.adapter / "adapter_model.safetensors").exists()
    metrics = [json.loads(line) for line in run.metrics.read_text(encoding="utf-8").splitlines()]
    assert [m["step"] for m in metrics if m["kind"] == "train"] == [1, 2]
    if fast == "off":
        assert metrics[-2]["epoch"] > 0.3  # 8 of ~21 conversations: the world size doubled the data per step
    else:  # packs are dealt to the ranks: one budget for both, settled once, and each step takes two packs
        assert out.count("trainer settled") == 1 and metrics[-2]["epoch"] > 0


def test_out_of_memory_is_one_sentence_and_the_last_checkpoint_resumes(installed_tiny_base, hearth_home, data_file,
                                                                       monkeypatch, capsys):
    """CUDA OOM cannot happen on a CPU test machine, so the trainer's step raises it at step 3."""
    import transformers

    import tuner.__main__ as child
    from tuner.runs import new_run
    from tuner.recipe import load_recipe

    recipe = load_recipe("tiny-offline", ["train.max_steps=6", "train.save_steps=2", "train.eval_steps=2",
                                          "train.logging_steps=1", "train.batch_size=2"])
    recipe.data.files = [str(data_file)]
    run = new_run(recipe)
    real_step = transformers.Trainer.training_step

    def step_until_memory_runs_out(self, *args, **kwargs):
        if self.state.global_step >= 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(transformers.Trainer, "training_step", step_until_memory_runs_out)
    assert child.main(["train", str(run.root)]) == 3
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    message = events[-1]["message"]
    assert events[-1]["event"] == "error" and message.startswith("out of memory at step 2 (CUDA out of memory")
    assert "train.batch_size" in message and "checkpoint-2" in message and "--resume" in message
    monkeypatch.setattr(transformers.Trainer, "training_step", real_step)
    assert child.main(["train", str(run.root), "--resume"]) == 0
    steps = [json.loads(line)["step"] for line in capsys.readouterr().out.splitlines() if '"event": "step"' in line]
    assert steps[0] == 3 and steps[-1] == 6


def test_base_models_resolve_local_first(tiny_base_dir, installed_tiny_base, tmp_path):
    from hearth.errors import UserError
    from tuner.model_loading import resolve_base

    assert resolve_base(str(tiny_base_dir)) == str(tiny_base_dir)  # a local Hugging Face directory
    assert resolve_base("tiny-qwen2") == str(installed_tiny_base)  # a name under HEARTH_HOME/models
    assert resolve_base("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"  # only a hub id goes out
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no config.json"):
        resolve_base(str(tmp_path / "empty"))


def test_train_from_a_local_model_directory(tiny_base_dir, hearth_home, data_file):
    """Real users name a directory (or hub id); that path is the ordinary from_pretrained one."""
    assert main(train_args(data_file, "--base", str(tiny_base_dir), "--max-steps", "1", "--set", "data.eval_fraction=0")) == 0
    run = only_run(hearth_home)
    config = json.loads((run.adapter / "adapter_config.json").read_text(encoding="utf-8"))
    assert config["base_model_name_or_path"] == str(tiny_base_dir)
    assert not (hearth_home / "models").exists()  # the tiny base was not built: the named directory was used


def test_recipes_name_builtin_datasets_explicitly():
    from hearth.errors import UserError
    from tuner.prepare import data_files
    from tuner.recipe import load_recipe

    (linzhi,) = data_files(load_recipe("tiny-offline"))
    assert linzhi.endswith("personas/linzhi/dialogues.jsonl")
    assert data_files(load_recipe("tarot-r1-distill-7b"))[0].endswith("spreads/readings-sample.jsonl")
    with pytest.raises(UserError, match="no built-in dataset 'nope'; the built-in ones are builtin:linzhi"):
        data_files(load_recipe("tiny-offline", ["data.files=[builtin:nope]"]))
    with pytest.raises(UserError, match="names no data files"):
        data_files(load_recipe("tiny-offline", ["data.files=[]"]))


def test_export_of_a_trained_run_merges_it_first(installed_tiny_base, hearth_home, data_file, capsys):
    assert main(train_args(data_file, "--max-steps", "1")) == 0
    run = only_run(hearth_home)
    assert not run.merged.exists()
    # The fixture's base was never pretrained, so one step cannot teach it to end a turn: the export
    # merges, converts and quantizes; the files are faithful (exit 0) and the model's not stopping is a
    # behaviour warning, not a failed export.
    assert main(["export", run.root.name, "--quant", "q8_0"]) == 0
    assert (run.merged / "config.json").exists()
    assert sorted(p.name.rsplit("-", 1)[-1] for p in run.gguf.glob("*.gguf")) == ["f16.gguf", "q8_0.gguf"]
    out = capsys.readouterr().out
    assert "merged model:" in out and "10/10 probes identical" in out
    assert "the trained model does not end its turn" in " ".join(out.split())


@pytest.mark.parametrize("flag,config_key", [("lora.use_rslora=true", "use_rslora"), ("lora.use_dora=true", "use_dora")])
def test_rslora_and_dora_train_and_are_recorded_in_the_adapter(installed_tiny_base, hearth_home, data_file, flag, config_key):
    assert main(train_args(data_file, "--max-steps", "1", "--set", flag, "--set", "data.eval_fraction=0")) == 0
    config = json.loads((only_run(hearth_home).adapter / "adapter_config.json").read_text(encoding="utf-8"))
    assert config[config_key] is True
