"""Training on a CPU: hearth's plain TRL path against its fast path, same rows, same invocation.

    python bench/cpu_train_speed.py --base ~/.hearth/models/smollm2-135m-instruct   # a real base (fp32)
    python bench/cpu_train_speed.py                        # the narrow shape, 160 conversations (~10 min on 2 cores)
    python bench/cpu_train_speed.py --shape 0.5b --rows 32   # the real Qwen2.5-0.5B shape: for many cores

Both sides are `tuner.train.build_trainer` — what `hearth train` runs — on the same model and rows
(random token ids, 96–512 tokens with `--base`, 96–400 otherwise, the first third prompt), with
`fast.enabled` off (TRL's SFTTrainer: padded batches of 4, logits for every position) and on
(conversations packed without padding into the automatic token budget, the loss through the head
only at assistant positions, fused LoRA, checkpointing when the memory probe needs it, and the
matrix products in bf16 under autocast where the CPU multiplies bf16 natively: `fast.cpu_bf16`,
`--cpu-bf16`). One epoch each, tokens/s over the steps after a warm-up, and the ratio; `--fp32-side`
adds the fast path with `cpu_bf16` off and prints both per-step loss curves.

Each side runs in its own child process, so its peak resident memory (the kernel's `ru_maxrss` of
the child: model loading, the fast path's probes and training, all included) is its own. `--base`
loads a Hugging Face folder (e.g. what `hearth base smollm2` imports); `narrow` keeps the vocabulary
and depth of the 0.5B model but a 256-wide body, so it runs in minutes: its head is a larger share
of the work than in the real model, so its ratio overstates the real one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from train_speed import MAX_LENGTH, SHAPES, StepClock, hearth_trainer, make_rows  # noqa: E402

CPU_SHAPES = {
    "0.5b": SHAPES["0.5b"],
    "narrow": dict(SHAPES["0.5b"], hidden_size=256, intermediate_size=768, num_attention_heads=4, num_key_value_heads=2),
}
# side -> its `fast:` settings; "fast-fp32" (with --fp32-side) is the fast path with the CPU's bf16 autocast off,
# on the same packs: its per-step losses against "fast"'s show what bf16 changes.
SIDES = {"plain": {"enabled": "off"}, "fast": {"enabled": "on"}, "fast-fp32": {"enabled": "on", "cpu_bf16": "off"}}
SHORTEST = 96
GIB = 1024**3


def build_model(args):
    import torch

    torch.manual_seed(0)
    if args.base:
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM.from_pretrained(args.base, dtype=getattr(torch, args.dtype), use_safetensors=True)
    from transformers import Qwen2Config, Qwen2ForCausalLM

    return Qwen2ForCausalLM(Qwen2Config(**CPU_SHAPES[args.shape], use_cache=False)).to(getattr(torch, args.dtype))


def rows_for(args, vocab: int) -> list[dict]:
    return make_rows(args.rows, vocab, lengths=(SHORTEST, MAX_LENGTH if args.base else 400))


def run_side(args) -> dict:
    """One side in this process (the child): train one epoch, return its figures."""
    model = build_model(args)
    rows = rows_for(args, model.config.vocab_size)
    fast = {"compile": "off", "liger": "off", "cpu_bf16": args.cpu_bf16, **SIDES[args.side]}
    trainer, collator, path = hearth_trainer(model, rows, tempfile.mkdtemp(prefix=f"bench-cpu-{args.side}-"), fast,
                                             False, args.dtype)
    setup_started = time.perf_counter()
    steps = len(trainer.get_train_dataloader())  # the fast path probes its token budget here
    setup_s = time.perf_counter() - setup_started
    clock = StepClock(warmup=2)
    trainer.add_callback(clock.callback)
    losses = []
    training_step = trainer.training_step

    def recorded_step(*step_args, **step_kwargs):
        loss = training_step(*step_args, **step_kwargs)
        losses.append(loss.detach())
        return loss

    trainer.training_step = recorded_step
    output = trainer.train()
    timed = sum(collator.tokens[clock.warmup : clock.steps])
    return {"side": args.side, "tokens_per_s": timed / (clock.end - clock.start), "steps": steps,
            "timed_tokens": timed, "loss": output.training_loss, "setup_s": setup_s, "trainer": path.describe(),
            "losses": [round(float(loss), 4) for loss in losses], "load": os.getloadavg()[0]}


def measure_side(argv: list[str], side: str) -> dict:
    """Run one side in a child process; its figures plus its peak RSS from the kernel (wait4)."""
    command = [sys.executable, str(Path(__file__).resolve()), *argv, "--side", side]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the {side} side failed (exit {os.waitstatus_to_exitcode(status)}): {' '.join(command)}")
    result = json.loads([line for line in out.splitlines() if line.startswith("{\"side\"")][-1])
    result["peak_rss_gib"] = usage.ru_maxrss * 1024 / GIB  # ru_maxrss is in KiB on Linux
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="a Hugging Face model folder to train instead of a random shape")
    parser.add_argument("--shape", choices=sorted(CPU_SHAPES), default="narrow")
    parser.add_argument("--rows", type=int, help="conversations (default: 32 with --base, 160 otherwise)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--cpu-bf16", default="auto", choices=["auto", "on", "off"],
                        help="the fast side's fast.cpu_bf16 (auto: bf16 products where the CPU has them natively)")
    parser.add_argument("--fp32-side", action="store_true",
                        help="also run the fast path with cpu_bf16 off and compare its per-step losses")
    parser.add_argument("--side", choices=sorted(SIDES), help=argparse.SUPPRESS)  # the child's own side
    args = parser.parse_args(argv)
    args.rows = args.rows or (32 if args.base else 160)
    if args.side:
        print(json.dumps(run_side(args)), flush=True)
        return 0

    import torch
    import transformers
    import trl

    forwarded = [*(["--base", args.base] if args.base else ["--shape", args.shape]),
                 "--rows", str(args.rows), "--dtype", args.dtype, "--cpu-bf16", args.cpu_bf16]
    results = {}
    for side in [side for side in SIDES if side != "fast-fp32" or args.fp32_side]:
        results[side] = measure_side(forwarded, side)
        print(f"# {side}: {json.dumps(results[side])}", flush=True)
    what = f"base {args.base}" if args.base else f"{args.shape} shape"
    print(f"\n{what}, {args.rows} rows, {args.dtype}; CPU, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"transformers {transformers.__version__}, TRL {trl.__version__}, {time.strftime('%Y-%m-%d')}\n")
    print("| side | tokens/s | × plain | peak RSS GiB | optimizer steps | setup s | train loss | load |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for side, r in results.items():
        print(f"| {side} | {r['tokens_per_s']:,.0f} | {r['tokens_per_s'] / results['plain']['tokens_per_s']:.2f}× | "
              f"{r['peak_rss_gib']:.2f} | {r['steps']} | {r['setup_s']:.0f} | {r['loss']:.3f} | {r['load']:.1f} |")
    print(f"\n{results['fast']['trainer']}")
    if "fast-fp32" in results:
        pairs = list(zip(results["fast"]["losses"], results["fast-fp32"]["losses"]))
        worst = max(abs(a - b) / abs(b) for a, b in pairs)
        print(f"per-step loss, fast vs fast-fp32 (same packs; dropout draws differ): largest relative gap {worst:.2%}")
        print("  fast     ", results["fast"]["losses"])
        print("  fast-fp32", results["fast-fp32"]["losses"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
