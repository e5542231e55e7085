"""Attention on a CPU: PyTorch's flash kernel against attention written out by hand (batched products and a
masked softmax), forward and backward, at SmolLM2-135M's shape (9 query heads over 3 K/V heads of 64).

    python bench/cpu_attention.py            # --threads 2

The fast path's per-conversation attention (tuner/fast/attention.py) calls the flash kernel; this prints whether
the written-out form would be cheaper, by conversation length, each against the kernel in the same invocation.
A second table times the kernel over whole 472-token packs (one to four conversations) with bf16 inputs, as a
`fast.cpu_bf16` step hands them over: run in bf16 against run in fp32 (`cpu_attention_in_fp32` in
tuner/fast/cpu_bf16.py chooses between them by CPU).
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


def _timed(once) -> float:
    """Milliseconds per call of `once`, after three warm-up calls."""
    for _ in range(3):
        once()
    started = time.perf_counter()
    for _ in range(REPEATS):
        once()
    return (time.perf_counter() - started) / REPEATS * 1e3


def milliseconds(attend, length: int) -> float:
    q, k, v = _inputs(length)

    def once():
        attend(q, k, v).sum().backward()

    return _timed(once)


PACKS = ([472], [300, 172], [130, 200, 142], [100, 120, 150, 102])  # conversations in a 472-token pack


def pack_milliseconds(lengths: list[int], in_fp32: bool) -> float:
    """Forward and backward of per-conversation attention over one pack, from bf16 q/k/v."""
    tokens = sum(lengths)
    q, k, v = (torch.randn(1, heads, tokens, HEAD_DIM, dtype=torch.bfloat16, requires_grad=True)
               for heads in (HEADS, KV_HEADS, KV_HEADS))

    def once():
        qq, kk, vv = (t.float() for t in (q, k, v)) if in_fp32 else (q, k, v)
        starts = [0, *torch.tensor(lengths).cumsum(0).tolist()]
        pieces = [flash(qq[:, :, a:b], kk[:, :, a:b], vv[:, :, a:b]) for a, b in zip(starts[:-1], starts[1:])]
        torch.cat(pieces, dim=2).to(torch.bfloat16).float().sum().backward()

    return _timed(once)


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
    print("\n| conversations in the pack | bf16 kernel | fp32 kernel | fp32 vs bf16 |")
    print("|---|---:|---:|---:|")
    for lengths in PACKS:
        in_bf16, in_fp32 = pack_milliseconds(lengths, False), pack_milliseconds(lengths, True)
        print(f"| {' + '.join(map(str, lengths))} | {in_bf16:.2f} | {in_fp32:.2f} | {in_bf16 / in_fp32:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
