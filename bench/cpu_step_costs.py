"""Where a fast-path step goes on a CPU: the figures docs/benchmarks.md quotes for the real base, in one invocation.

    python bench/cpu_step_costs.py --base ~/.hearth/models/smollm2-135m-instruct
    python bench/cpu_step_costs.py --base ... --profile     # and the top operators of one bf16 step
    python bench/cpu_step_costs.py --base ... --by-op       # and one step's time per aten operator (the precision auto picks)

Three measurements, each against a baseline taken in the same run:
- a 508x576x1536 matrix product (SmolLM2-135M's MLP at a 512-token step) in bf16 against fp32: what
  `fast.cpu_bf16` can buy on this CPU (a multiple on AMX, little without native bf16);
- fast-path steps of the real base with `cpu_bf16` on against off (the same packs);
- the same bf16 steps with the LoRA dropout at 0 against the bench's 0.1: what dropout's masks cost.
Steps are timed in this process after two warm-up steps, on the same first packs of `cpu_train_speed.py`'s rows.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import train_speed  # noqa: E402
from cpu_train_speed import build_model, rows_for  # noqa: E402

WARMUP, TIMED = 2, 6


def product_ms(dtype, repeats: int = 50) -> float:
    import torch

    a, w = torch.randn(508, 576, dtype=dtype), torch.randn(1536, 576, dtype=dtype)
    a @ w.t()
    started = time.perf_counter()
    for _ in range(repeats):
        a @ w.t()
    return (time.perf_counter() - started) / repeats * 1e3


def print_time_by_op(step, pack, precision: str) -> None:
    """One step's wall time per aten operator, each call timed as it returns (a dispatch mode). torch.profiler's
    self times inflate the elementwise operators several-fold on this kind of machine, so they are not used here."""
    import collections

    from torch.utils._python_dispatch import TorchDispatchMode

    seconds: dict[str, float] = collections.defaultdict(float)

    class Timed(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            started = time.perf_counter()
            out = func(*args, **(kwargs or {}))
            seconds[func.overloadpacket.__name__] += time.perf_counter() - started
            return out

    started = time.perf_counter()
    with Timed():
        step(pack)
    total = time.perf_counter() - started
    print(f"\none {precision} step of {int(pack['input_ids'].numel())} tokens: {total:.2f} s\n")
    print("| aten operator | seconds | share |")
    print("|---|---:|---:|")
    for name, spent in sorted(seconds.items(), key=lambda item: -item[1])[:12]:
        print(f"| {name} | {spent:.3f} | {spent / total:.0%} |")
    print(f"| everything else (Python, autograd, other operators) | {total - sum(seconds.values()):.3f} | "
          f"{(total - sum(seconds.values())) / total:.0%} |")


def steps_tokens_per_s(args, cpu_bf16: str, dropout: float, profile: bool = False, by_op: bool = False) -> float:
    """Tokens/s of fast-path optimizer steps on the first packs, with these settings."""
    import torch

    model = build_model(args)
    recipe_dropout, train_speed.LORA["dropout"] = train_speed.LORA["dropout"], dropout
    try:
        trainer, _, _ = train_speed.hearth_trainer(
            model, rows_for(args, model.config.vocab_size), tempfile.mkdtemp(prefix="bench-cpu-costs-"),
            {"enabled": "on", "compile": "off", "liger": "off", "cpu_bf16": cpu_bf16}, False, "float32")
    finally:
        train_speed.LORA["dropout"] = recipe_dropout
    packs = [pack for _, pack in zip(range(WARMUP + TIMED), trainer.get_train_dataloader())]
    trainer.create_optimizer_and_scheduler(num_training_steps=len(packs))
    trainer.current_gradient_accumulation_steps = 1  # what Trainer.train sets before its first step

    def step(pack):
        trainer.training_step(trainer.model, pack)
        trainer.optimizer.step()
        trainer.optimizer.zero_grad()

    trainer.model.train()
    for pack in packs[:WARMUP]:
        step(pack)
    started = time.perf_counter()
    for pack in packs[WARMUP:]:
        step(pack)
    elapsed = time.perf_counter() - started
    if by_op:
        print_time_by_op(step, packs[WARMUP], "bf16" if cpu_bf16 == "on" else "fp32")
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as profiler

        with profiler(activities=[ProfilerActivity.CPU]) as run:
            step(packs[WARMUP])
        print(run.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
    tokens = sum(int(pack["input_ids"].numel()) for pack in packs[WARMUP:])
    del trainer, model
    gc.collect()
    torch.manual_seed(0)
    return tokens / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="a Hugging Face model folder (what `hearth base smollm2` imports)")
    parser.add_argument("--rows", type=int, default=32)
    parser.add_argument("--profile", action="store_true", help="print the top operators of one bf16 step")
    parser.add_argument("--by-op", action="store_true",
                        help="print one step's wall time per aten operator, in the precision cpu_bf16 auto picks here")
    args = parser.parse_args(argv)
    args.dtype, args.shape = "float32", "narrow"

    import torch

    from tuner.fast.cpu_bf16 import cpu_has_native_bf16

    fp32_ms, bf16_ms = product_ms(torch.float32), product_ms(torch.bfloat16)
    dropout = train_speed.LORA["dropout"]
    native = cpu_has_native_bf16()
    fp32_steps = steps_tokens_per_s(args, "off", dropout, by_op=args.by_op and not native)
    bf16_steps = steps_tokens_per_s(args, "on", dropout, profile=args.profile, by_op=args.by_op and native)
    no_dropout = steps_tokens_per_s(args, "on", 0.0)
    print(f"\n{args.base}, {args.rows} rows; CPU, {os.cpu_count()} cores, native bf16: {native}, "
          f"torch {torch.__version__}, {time.strftime('%Y-%m-%d')}, load {os.getloadavg()[0]:.1f}\n")
    print("| measurement | baseline | this | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| 508x576x1536 product, bf16 vs fp32 (ms) | {fp32_ms:.2f} | {bf16_ms:.2f} | {fp32_ms / bf16_ms:.2f}x |")
    print(f"| fast-path steps, cpu_bf16 on vs off (tokens/s) | {fp32_steps:.0f} | {bf16_steps:.0f} | "
          f"{bf16_steps / fp32_steps:.2f}x |")
    print(f"| bf16 steps, LoRA dropout 0 vs {dropout} (tokens/s) | {bf16_steps:.0f} | {no_dropout:.0f} | "
          f"{no_dropout / bf16_steps:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
