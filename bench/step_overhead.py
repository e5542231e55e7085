"""Per-step framework overhead: eager decoder layers against compiled ones, same trainer, same run.

    python bench/step_overhead.py                  # on the GPU when there is one, else the CPU
    python bench/step_overhead.py --rows 480 --budget 512

On a small model the H100 waits on the CPU: a 0.5B step spends most of its wall clock launching
thousands of small kernels through Python, PEFT and the autograd engine (docs/benchmarks.md). This
bench isolates that cost. The model has the Qwen2.5-0.5B structure — 24 decoder layers, 14 query
and 2 key/value heads, LoRA r=16 on all seven projections, the same fast path (packing, varlen
attention, fused LoRA, chunked loss) through `tuner.train.build_trainer` — but is so narrow
(hidden 56, vocabulary 1,024) that its arithmetic is negligible: what a step costs here is the work
that does not shrink with the GPU's speed. Four variants, each a fresh model with the same rows and
seed: eager and compiled layers, each with activation checkpointing on (what the 0.5B benchmark
runs under its memory ceiling) and off. Prints ms per optimizer step after a warm-up and the
ratio against eager-with-checkpointing, plus the one-off compile time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train_speed import SHAPES, StepClock, hearth_trainer, make_rows, synchronize  # noqa: E402

NARROW = dict(SHAPES["0.5b"], hidden_size=56, intermediate_size=112, vocab_size=1024)
VARIANTS = [  # (label, fast: settings); the first is the baseline the others are compared with
    ("eager, checkpointing", {"compile": "off", "gradient_checkpointing": "on"}),
    ("eager", {"compile": "off", "gradient_checkpointing": "off"}),
    ("compiled, checkpointing", {"compile": "on", "gradient_checkpointing": "on"}),
    ("compiled", {"compile": "on", "gradient_checkpointing": "off"}),
]


def narrow_model(device: str):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    config = Qwen2Config(**NARROW, use_cache=False)
    return Qwen2ForCausalLM(config).to(device)


def run_variant(settings: dict, rows: list[dict], budget: int, device: str) -> dict:
    import torch

    model = narrow_model(device)
    fast = {"enabled": "on", "liger": "off", "token_budget": budget, **settings}
    dtype = "bfloat16" if device == "cuda" else "float32"
    trainer, collator, _ = hearth_trainer(model, rows, tempfile.mkdtemp(prefix="bench-overhead-"), fast, False, dtype)
    started = time.perf_counter()
    steps = len(trainer.get_train_dataloader())  # compiles here when compile is on (first compiled step)
    synchronize()
    setup_s = time.perf_counter() - started
    clock = StepClock(warmup=5)
    trainer.add_callback(clock.callback)
    trainer.train()
    timed_steps = clock.steps - clock.warmup
    torch._dynamo.reset()
    return {"ms_per_step": (clock.end - clock.start) * 1000 / timed_steps, "steps": steps,
            "timed_steps": timed_steps, "setup_s": setup_s, "compiled": trainer.fast_path.compile,
            "describe": trainer.fast_path.describe()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=240, help="conversations in the epoch")
    parser.add_argument("--budget", type=int, default=128, help="tokens per step (packs of ~4 rows)")
    args = parser.parse_args(argv)

    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        where = torch.cuda.get_device_name()
    else:
        where = f"CPU, {os.cpu_count()} cores, {torch.get_num_threads()} threads"
    rows = make_rows(args.rows, NARROW["vocab_size"], lengths=(16, 40))
    results = []
    for label, settings in VARIANTS:
        result = run_variant(settings, rows, args.budget, device)
        results.append((label, result))
        print(f"# {label}: {result['ms_per_step']:.1f} ms/step over {result['timed_steps']} steps, "
              f"setup {result['setup_s']:.1f} s — {result['describe']}", flush=True)
    baseline = results[0][1]["ms_per_step"]
    print(f"\n{where}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}\n")
    print("| layers | ms per step | × faster than eager + checkpointing | setup s (compile) |")
    print("|---|---:|---:|---:|")
    for label, result in results:
        ms = result["ms_per_step"]
        print(f"| {label} | {ms:.1f} | {baseline / ms:.2f}× | {result['setup_s']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
