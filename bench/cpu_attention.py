"""Attention on a CPU: PyTorch's flash kernel against attention written out by hand (batched products and a
masked softmax), forward and backward, at SmolLM2-135M's shape (9 query heads over 3 K/V heads of 64).

    python bench/cpu_attention.py            # --threads 2

The fast path's per-conversation attention (tuner/fast/attention.py) calls the flash kernel; this prints whether
the written-out form would be cheaper, by conversation length, each against the kernel in the same invocation.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

HEADS, KV_HEADS, HEAD_DIM = 9, 3, 64
REPEATS = 20


def _inputs(length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    def make(heads):
        return torch.randn(1, heads, length, HEAD_DIM, requires_grad=True)
    return make(HEADS), make(KV_HEADS), make(KV_HEADS)


def flash(q, k, v) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)


def by_hand(q, k, v) -> torch.Tensor:
    """The query heads that share a K/V head as one [3·L, 64] block, so each K/V head is read once."""
    length, groups = q.shape[2], HEADS // KV_HEADS
    mask = torch.full((length, length), float("-inf")).triu(1)
    scores = (q.reshape(1, KV_HEADS, groups * length, HEAD_DIM) * HEAD_DIM ** -0.5) @ k.transpose(-1, -2)
    weights = (scores.view(1, KV_HEADS, groups, length, length) + mask).softmax(-1)
    return (weights.view(1, KV_HEADS, groups * length, length) @ v).view(1, HEADS, length, HEAD_DIM)


def milliseconds(attend, length: int) -> float:
    q, k, v = _inputs(length)

    def once():
        attend(q, k, v).sum().backward()

    for _ in range(3):
        once()
    started = time.perf_counter()
    for _ in range(REPEATS):
        once()
    return (time.perf_counter() - started) / REPEATS * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    q, k, v = _inputs(64)
    torch.testing.assert_close(by_hand(q, k, v), flash(q, k, v), rtol=1e-4, atol=1e-5)  # the same attention
    print(f"CPU, {args.threads} threads, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}, "
          f"load {os.getloadavg()[0]:.1f}; forward + backward, ms\n")
    print("| tokens | flash kernel | by hand | by hand vs kernel |")
    print("|---:|---:|---:|---:|")
    for length in (128, 256, 512):
        kernel, written = milliseconds(flash, length), milliseconds(by_hand, length)
        print(f"| {length} | {kernel:.2f} | {written:.2f} | {kernel / written:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
