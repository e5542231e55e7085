"""Training on a CPU: hearth's plain TRL path against its fast path, same rows, same run.

    python bench/cpu_train_speed.py                        # the narrow shape, 160 conversations (~10 min on 2 cores)
    python bench/cpu_train_speed.py --shape 0.5b --rows 32   # the real Qwen2.5-0.5B shape: for many cores

Both sides are `tuner.train.build_trainer` — what `hearth train` runs — on the same randomly
initialised model and rows (96–400 tokens, the first third prompt), with `fast.enabled` off (TRL's
SFTTrainer: padded batches of 4, logits for every position) and on (conversations packed without
padding, the loss through the 151,936-column head only at assistant positions, fused LoRA). One
epoch each, fp32, tokens/s over the steps after a warm-up, and the ratio. `narrow` keeps the
vocabulary and depth of the 0.5B model but a 256-wide body, so it runs in a minute: its head is a
larger share of the work than in the real model, so its ratio overstates the real one.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train_speed import SHAPES, StepClock, hearth_trainer, make_rows  # noqa: E402

CPU_SHAPES = {
    "0.5b": SHAPES["0.5b"],
    "narrow": dict(SHAPES["0.5b"], hidden_size=256, intermediate_size=768, num_attention_heads=4, num_key_value_heads=2),
}
SIDES = {"plain": "off", "fast": "on"}  # side -> fast.enabled


def run_side(shape: str, side: str, rows: list[dict]) -> dict:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    model = Qwen2ForCausalLM(Qwen2Config(**CPU_SHAPES[shape], use_cache=False))
    fast = {"enabled": SIDES[side], "compile": "off", "liger": "off"}
    trainer, collator, _ = hearth_trainer(model, rows, tempfile.mkdtemp(prefix=f"bench-cpu-{side}-"), fast, False,
                                          "float32")
    steps = len(trainer.get_train_dataloader())
    clock = StepClock(warmup=2)
    trainer.add_callback(clock.callback)
    output = trainer.train()
    timed = sum(collator.tokens[clock.warmup : clock.steps])
    return {"tokens_per_s": timed / (clock.end - clock.start), "steps": steps, "loss": output.training_loss}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(CPU_SHAPES), default="narrow")
    parser.add_argument("--rows", type=int, default=160)
    args = parser.parse_args(argv)

    import os

    import torch

    rows = make_rows(args.rows, CPU_SHAPES[args.shape]["vocab_size"], lengths=(96, 400))
    results = {}
    for side in SIDES:
        results[side] = run_side(args.shape, side, rows)
        print(f"# {side}: {results[side]}", flush=True)
    print(f"\n{args.shape} shape, {args.rows} rows; CPU, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{time.strftime('%Y-%m-%d')}\n")
    print("| side | tokens/s | × plain | optimizer steps | train loss |")
    print("|---|---:|---:|---:|---:|")
    for side, r in results.items():
        print(f"| {side} | {r['tokens_per_s']:,.0f} | {r['tokens_per_s'] / results['plain']['tokens_per_s']:.2f}× | "
              f"{r['steps']} | {r['loss']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
