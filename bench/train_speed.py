"""Training speed and memory: TRL's defaults against hearth's trainer, same data, same invocation.

    python bench/train_speed.py                      # 0.5B and 7B shapes, TRL vs hearth (bf16 + QLoRA)
    python bench/train_speed.py --shapes 0.5b --sides trl,hearth --samples 600
    python bench/train_speed.py --shapes 0.5b --sides hearth --set gradient_checkpointing=on --set token_budget=16384

Each side runs in its own child process (a clean GPU, peak-memory counter and module state:
Liger patches transformers' classes process-wide), on a randomly initialised model of the real
shape (Qwen2.5-0.5B-Instruct, DeepSeek-R1-Distill-Qwen-7B), with the same seed, the same rows
(96-512 tokens, the first third prompt with label -100, the rest assistant), the same LoRA
(r=16, alpha=32, dropout 0.1, q/k/v/o/gate/up/down) and one epoch.

- trl: `SFTTrainer` + PEFT with SFTConfig defaults (gradient checkpointing on, batch 8, bf16), max length 512;
- hearth: `tuner.train.build_trainer` — what `hearth train` runs — with the recipe's `fast:` section;
- hearth-eager: the same with `fast.compile: off` (decoder layers run eagerly, Liger kernels instead);
- hearth-qlora: the same, the base saved to disk and loaded 4-bit NF4 by `tuner.model_loading.load_model`.

Tokens/s counts real (non-padding) tokens of the timed steps (after a warm-up); peak memory is
`torch.cuda.max_memory_allocated` over the whole `train()` call, weights included. Every result is
printed as a JSON line the moment it exists (a killed run still leaves its numbers), then a
markdown table with the ratios against TRL's defaults.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GIB = 1024**3

# Real shapes, randomly initialised (no hub access): config fields of the published models.
SHAPES = {
    "0.5b": dict(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
        rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
    ),
    "7b": dict(
        vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
        num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=131072,
        rope_theta=10_000.0, rms_norm_eps=1e-6, tie_word_embeddings=False,
    ),
}
# Rows per shape for one epoch, and the memory ceiling hearth's automatic budget is given (the
# issue's targets: 0.5B <= 8 GiB, 7B <= 24 GiB bf16 / 16 GiB QLoRA, weights included).
DEFAULT_SAMPLES = {"0.5b": 600, "7b": 320}  # the roleplay recipe's data set is ~450 conversations
MEMORY_LIMIT_GIB = {("0.5b", "hearth"): 7.5, ("7b", "hearth"): 22.0, ("7b", "hearth-qlora"): 14.5,
                    ("0.5b", "hearth-qlora"): 7.5, ("0.5b", "hearth-eager"): 7.5, ("7b", "hearth-eager"): 22.0}
SIDE_SETTINGS = {"hearth-eager": {"compile": "off"}}  # fast: settings a hearth variant starts from
LORA = dict(r=16, alpha=32, dropout=0.1)
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
MAX_LENGTH = 512
TRL_BATCH = 8
TRL_LOCAL: dict = {}  # extra SFTConfig fields for a CPU smoke run of the plumbing (tests only)


def make_rows(count: int, vocab: int, seed: int = 0, lengths: tuple[int, int] = (96, MAX_LENGTH)) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        length = rng.randint(*lengths)
        ids = [rng.randrange(10, vocab - 10) for _ in range(length)]
        prompt = length // 3
        rows.append({"input_ids": ids, "labels": [-100] * prompt + ids[prompt:]})
    return rows


def bench_tokenizer():
    """A word-level tokenizer with a pad id: the rows come pre-tokenized, only padding needs it."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel({"<pad>": 0, "<eos>": 1, "<unk>": 2}, "<unk>")))
    tokenizer.pad_token, tokenizer.eos_token, tokenizer.unk_token = "<pad>", "<eos>", "<unk>"
    return tokenizer


def build_model(shape: str):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(**SHAPES[shape], attn_implementation="sdpa", use_cache=False)
    with torch.device("cuda"):
        model = Qwen2ForCausalLM._from_config(config, dtype=torch.bfloat16)
    return model


def saved_model_dir(shape: str) -> str:
    """The random model on disk (safetensors), for the loaders that read from disk (QLoRA)."""
    folder = Path(tempfile.gettempdir()) / f"hearth-bench-{shape}"
    if not (folder / "config.json").exists():
        model = build_model(shape)
        model.save_pretrained(folder, safe_serialization=True)
        del model
    return str(folder)


def synchronize() -> None:
    """Wait for the GPU's queue (a no-op on CPU, where every operation has finished on return)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


class StepClock:
    """Times steps after a warm-up with two synchronisations only (no per-step sync)."""

    def __init__(self, warmup: int):
        from transformers import TrainerCallback

        clock = self

        class Callback(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                clock.steps = state.global_step
                if state.global_step == clock.warmup:
                    synchronize()
                    clock.start = time.perf_counter()

            def on_train_end(self, args, state, control, **kwargs):
                synchronize()
                clock.end = time.perf_counter()

        self.warmup, self.steps, self.start, self.end = warmup, 0, None, None
        self.callback = Callback()


class CountingCollator:
    """Wraps a collator to record the real (non-padding) tokens of each batch, in order."""

    def __init__(self, inner):
        self.inner, self.tokens = inner, []

    def __call__(self, rows):
        self.tokens.append(sum(len(row["input_ids"]) for row in rows))
        return self.inner(rows)


class StepProfiler:
    """torch.profiler over a few steps after the warm-up: where the GPU time goes, and how much of
    the wall clock the GPU is busy at all (the rest is Python and kernel-launch overhead)."""

    ACTIVE = 3

    def __init__(self, warmup: int):
        import torch
        from torch.profiler import ProfilerActivity, profile, schedule
        from transformers import TrainerCallback

        self.profile = profile(
            activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA],
            schedule=schedule(wait=max(0, warmup - 1), warmup=1, active=self.ACTIVE, repeat=1),
        )
        self.marks: list[float] = []
        self.python = cProfile.Profile()  # where the CPU's time goes between kernel launches
        outer = self

        class Callback(TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):
                outer.profile.start()

            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step in (warmup, warmup + outer.ACTIVE):
                    torch.cuda.synchronize()
                    outer.marks.append(time.perf_counter())
                    (outer.python.enable if len(outer.marks) == 1 else outer.python.disable)()
                outer.profile.step()

            def on_train_end(self, args, state, control, **kwargs):
                outer.profile.stop()

        self.callback = Callback()

    def summary(self, rows: int = 18) -> dict:
        try:
            return self._summary(rows)
        except Exception as exc:  # a profiler quirk must not cost the speed numbers
            return {"error": repr(exc)}

    def _summary(self, rows: int) -> dict:
        events = self.profile.key_averages()
        kernels = [e for e in events if e.device_type.name == "CUDA" or getattr(e, "self_device_time_total", 0) > 0]
        kernels.sort(key=lambda e: -e.self_device_time_total)
        busy_ms = sum(e.self_device_time_total for e in kernels) / 1000
        wall_ms = (self.marks[1] - self.marks[0]) * 1000 if len(self.marks) == 2 else None
        top = [[e.key[:90], round(e.self_device_time_total / 1000, 1), e.count] for e in kernels[:rows]]
        cpu_ops = sorted(events, key=lambda e: -e.self_cpu_time_total)[:rows]
        return {"gpu_busy_ms": round(busy_ms, 1), "wall_ms": wall_ms and round(wall_ms, 1),
                "steps": self.ACTIVE, "top_kernels_ms": top,
                "top_cpu_ops_ms": [[e.key[:90], round(e.self_cpu_time_total / 1000, 1), e.count] for e in cpu_ops],
                "top_python_ms": self._python_top(rows)}

    def _python_top(self, rows: int) -> list:
        """Python functions by own time (cProfile) over the profiled steps."""
        stats = pstats.Stats(self.python)
        entries = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:rows]
        return [[f"{Path(file).name}:{line}:{name}"[:90], round(own * 1000, 1), calls]
                for (file, line, name), (_, calls, own, _, _) in entries]


def trl_trainer(model, rows, out_dir):
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    args = SFTConfig(output_dir=out_dir, max_length=MAX_LENGTH, per_device_train_batch_size=TRL_BATCH,
                     num_train_epochs=1, report_to="none", save_strategy="no", logging_steps=10,
                     disable_tqdm=True, dataloader_num_workers=0, **TRL_LOCAL)
    collator = CountingCollator(DataCollatorForLanguageModeling(pad_token_id=0))
    peft_config = LoraConfig(r=LORA["r"], lora_alpha=LORA["alpha"], lora_dropout=LORA["dropout"],
                             target_modules=TARGETS, task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                         processing_class=bench_tokenizer(), data_collator=collator, peft_config=peft_config)
    return trainer, collator, "TRL SFTTrainer defaults (gradient checkpointing, batch 8, padded)"


def hearth_trainer(model, rows, out_dir, fast_overrides: dict, qlora: bool, dtype: str = "bfloat16"):
    from datasets import Dataset

    from tuner.fast.settings import FastSettings
    from tuner.recipe import DataSection, LoraSection, ModelSection, Recipe, TrainSection
    from tuner.train import build_trainer

    recipe = Recipe(
        model=ModelSection(dtype=dtype),
        lora=LoraSection(r=LORA["r"], alpha=LORA["alpha"], dropout=LORA["dropout"], target_modules=list(TARGETS),
                         qlora=qlora),
        data=DataSection(max_length=MAX_LENGTH),
        train=TrainSection(epochs=1, save_steps=10**9, eval_steps=10**9, logging_steps=10, early_stopping_patience=0),
        fast=FastSettings(**fast_overrides),
    )
    trainer, fast = build_trainer(recipe, model, bench_tokenizer(), Dataset.from_list(rows), None, Path(out_dir))
    collator = CountingCollator(trainer.data_collator)
    trainer.data_collator = collator
    return trainer, collator, fast


def run_side(shape: str, side: str, samples: int, fast_overrides: dict, profile: bool = False) -> dict:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False  # both sides alike; bf16 work is unaffected
    rows = make_rows(samples, SHAPES[shape]["vocab_size"])
    out_dir = tempfile.mkdtemp(prefix=f"bench-{shape}-{side}-")
    started = time.perf_counter()
    if side == "hearth-qlora":
        from tuner.model_loading import load_model
        from tuner.recipe import LoraSection, ModelSection, Recipe

        base = saved_model_dir(shape)
        torch.cuda.empty_cache()
        model = load_model(base, Recipe(model=ModelSection(dtype="bfloat16"), lora=LoraSection(qlora=True)))
    else:
        model = build_model(shape)
    build_s = time.perf_counter() - started
    overrides = {**SIDE_SETTINGS.get(side, {}), **fast_overrides}
    if side.startswith("hearth"):
        overrides.setdefault("memory_limit_gib", MEMORY_LIMIT_GIB.get((shape, side)))
        trainer, collator, fast = hearth_trainer(model, rows, out_dir, overrides, qlora=side == "hearth-qlora")
        described = fast.describe()
    else:
        trainer, collator, described = trl_trainer(model, rows, out_dir)
    setup_started = time.perf_counter()
    steps_per_epoch = len(trainer.get_train_dataloader())  # hearth: compiles the layers and probes the budget
    setup_s = time.perf_counter() - setup_started
    clock = StepClock(warmup=max(1, min(5, steps_per_epoch // 4)))
    trainer.add_callback(clock.callback)
    profiler = StepProfiler(clock.warmup) if profile else None
    if profiler:
        trainer.add_callback(profiler.callback)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    train_started = time.perf_counter()
    output = trainer.train()
    train_s = time.perf_counter() - train_started
    timed_tokens = sum(collator.tokens[clock.warmup : clock.steps])
    timed_s = (clock.end - clock.start) if clock.start else train_s
    fast_path = getattr(trainer, "fast_path", None)
    return {
        "shape": shape,
        "side": side,
        "set": fast_overrides,
        "tokens_per_s": timed_tokens / timed_s,
        "tokens_per_s_whole": sum(len(r["input_ids"]) for r in rows) / train_s,
        "peak_gib": torch.cuda.max_memory_allocated() / GIB,
        "peak_reserved_gib": torch.cuda.max_memory_reserved() / GIB,
        "steps": clock.steps,
        "timed_steps": clock.steps - clock.warmup,
        "train_s": train_s,
        "build_s": build_s,
        "setup_s": setup_s,
        "train_loss": output.training_loss,
        "token_budget": getattr(trainer, "token_budget", None),
        "checkpointing": getattr(fast_path, "checkpointing", None),
        "budget_probe": trainer.budget_choice.describe() if getattr(trainer, "budget_choice", None) else None,
        "describe": described,
        "gpu": torch.cuda.get_device_name(),
        "profile": profiler.summary() if profiler else None,
    }


def parse_set(items: list[str]) -> dict:
    import yaml

    values = {}
    for item in items:
        key, _, raw = item.partition("=")
        values[key.strip()] = yaml.safe_load(raw)
    return values


def worker(args) -> int:
    result = run_side(args.shape, args.side, args.samples, parse_set(args.set), profile=args.profile)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def table(results: list[dict]) -> str:
    lines = [
        "| shape | side | fast: settings | tokens/s | × TRL | peak GiB | budget | checkpointing | setup s | train loss |",
        "|---|---|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    baseline = {r["shape"]: r for r in results if r["side"] == "trl"}
    for r in results:
        base = baseline.get(r["shape"])
        ratio = f"{r['tokens_per_s'] / base['tokens_per_s']:.1f}×" if base else "—"
        settings = ", ".join(f"{k}={v}" for k, v in r["set"].items()) or "defaults"
        lines.append(
            f"| {r['shape']} | {r['side']} | {settings} | {r['tokens_per_s']:,.0f} | {ratio} | {r['peak_gib']:.2f} | "
            f"{r.get('token_budget') or '—'} | {r.get('checkpointing')} | {r.get('setup_s', 0):.0f} | {r['train_loss']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default="0.5b,7b")
    parser.add_argument("--sides", default="trl,hearth,hearth-qlora")
    parser.add_argument("--samples", type=int, default=None, help="rows per shape (default: per-shape table)")
    parser.add_argument("--set", action="append", default=[], help="a fast: setting for the hearth sides, key=value")
    parser.add_argument("--out", default=None, help="append each result as a JSON line to this file")
    parser.add_argument("--profile", action="store_true", help="profile 3 steps (timings then include its overhead)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per side")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    import torch

    if not torch.cuda.is_available():
        print("bench/train_speed.py needs a CUDA GPU (it measures GPU training); nothing to do here.")
        return 0
    results = []
    for shape in args.shapes.split(","):
        for side in args.sides.split(","):
            samples = args.samples or DEFAULT_SAMPLES[shape]
            command = [sys.executable, __file__, "--worker", "--shape", shape, "--side", side, "--samples", str(samples)]
            if side != "trl":
                command += [f"--set={item}" for item in args.set]
            if args.profile:
                command.append("--profile")
            print(f"# {shape} {side} {' '.join(args.set) if side != 'trl' else ''}".rstrip(), flush=True)
            env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, env=env)
                output = done.stdout + done.stderr
            except subprocess.TimeoutExpired as exc:
                output = f"timed out after {args.timeout}s\n{exc.stdout or ''}{exc.stderr or ''}"
            found = [line[len("RESULT "):] for line in output.splitlines() if line.startswith("RESULT ")]
            if not found:
                print(f"FAILED {shape} {side}:\n" + "\n".join(output.splitlines()[-25:]), flush=True)
                continue
            result = json.loads(found[-1])
            results.append(result)
            print(json.dumps(result), flush=True)
            if args.out:
                with open(args.out, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(result) + "\n")
    if results:
        print(f"\n{results[0]['gpu']}, {time.strftime('%Y-%m-%d')}\n")
        print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
