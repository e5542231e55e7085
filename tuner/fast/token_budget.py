"""The largest token budget per micro-step that fits the device's memory, found without crashing.

Peak memory of a training step grows linearly with the tokens in it (activations, loss chunks)
on top of a fixed part (weights, adapter, optimizer). On the GPU the peak is
`torch.cuda.max_memory_allocated`; on the CPU it is the process's peak resident memory
(`host_memory.py`), and the step may plan to fill at most half of the machine's free RAM. Probe steps on worst-case packs
(conversations of the maximum length, every position a target) give the line; the budget is read
off it at the memory limit, rounded down, confirmed by another probe, and the line re-read until a
probe lands near the limit or the ceiling (backing off halfway on out-of-memory). Probes catch
running out of memory, so nothing crashes while searching.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from tuner.fast.host_memory import available_bytes, peak_rss_during, release_host_memory, rss_bytes

BUDGET_GRANULE = 256  # budgets are multiples of this: tidy shapes for the matrix units
BACKOFF = 0.85
MAX_CONFIRM_TRIES = 6
HEADROOM = 0.97  # aim a little under the line: fragmentation grows with the budget
GOOD_ENOUGH = 0.9  # a probe peaking within 10% of the limit ends the search
CPU_FREE_SHARE = 0.5  # on the CPU a step plans to fill at most half of the free RAM: the machine keeps working


@dataclass
class BudgetProbe:
    budget: int
    peak_bytes: int | None  # None: out of memory


@dataclass
class BudgetChoice:
    budget: int
    peak_bytes: int
    limit_bytes: int
    probes: list[BudgetProbe]
    checkpointing: bool = False
    seconds: float | None = None  # how long the probe step at `budget` took
    tokens_per_s: float | None = None  # measured when checkpointing was chosen by speed

    def describe(self) -> str:
        gib = 1024**3
        tried = ", ".join(
            f"{p.budget}:{'OOM' if p.peak_bytes is None else f'{p.peak_bytes / gib:.1f}GiB'}" for p in self.probes
        )
        speed = f", {self.tokens_per_s:,.0f} probe tokens/s" if self.tokens_per_s else ""
        return (
            f"token budget {self.budget}, checkpointing {'on' if self.checkpointing else 'off'} (peak "
            f"{self.peak_bytes / gib:.1f} of {self.limit_bytes / gib:.1f} GiB{speed}; probes {tried})"
        )


def release_memory() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    else:
        release_host_memory()


def _on_cuda(device: torch.device | str | None) -> bool:
    return torch.device(device).type == "cuda" if device is not None else torch.cuda.is_available()


def memory_limit_bytes(fraction: float, limit_gib: float | None, reserve_bytes: int = 0, device=None) -> int:
    """Peak bytes a step may reach: what is held now plus a share of what is free (on the CPU:
    resident memory, and never more than half of the machine's free RAM)."""
    release_memory()
    if _on_cuda(device):
        free, _total = torch.cuda.mem_get_info()
        held = torch.cuda.memory_allocated()
    else:
        free, held, fraction = available_bytes(), rss_bytes(), min(fraction, CPU_FREE_SHARE)
    limit = held + int(free * fraction) - reserve_bytes
    if limit_gib is not None:
        limit = min(limit, int(limit_gib * 1024**3) - reserve_bytes)
    return limit


def probe_peak(step: Callable[[int], None], budget: int) -> int | None:
    """Peak allocated bytes of one `step(budget)` on the GPU, or None if it ran out of memory."""
    release_memory()
    torch.cuda.reset_peak_memory_stats()
    try:
        step(budget)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    except torch.OutOfMemoryError:
        peak = None
    release_memory()
    return peak


def _out_of_host_memory(error: BaseException) -> bool:
    return isinstance(error, (MemoryError, torch.OutOfMemoryError)) or "can't allocate memory" in str(error)


def probe_peak_rss(step: Callable[[int], None], budget: int) -> int | None:
    """Peak resident bytes of this process during one `step(budget)` on the CPU, or None if an
    allocation failed."""
    try:
        peak = peak_rss_during(lambda: step(budget))
    except (MemoryError, RuntimeError) as error:
        if not _out_of_host_memory(error):
            raise
        peak = None
    release_memory()
    return peak


def _round_down(budget: float) -> int:
    return max(BUDGET_GRANULE, int(budget) // BUDGET_GRANULE * BUDGET_GRANULE)


def fit_token_budget(
    step: Callable[[int], None],
    *,
    limit_bytes: int,
    smallest: int,
    largest: int,
    probe: Callable[[Callable[[int], None], int], int | None] = probe_peak,
) -> BudgetChoice | None:
    """Largest budget in [smallest, largest] whose step peaks under `limit_bytes`; None if even
    `smallest` does not fit."""
    smallest, largest = _round_down(smallest), max(_round_down(largest), _round_down(smallest))
    probes: list[BudgetProbe] = []
    seconds: dict[int, float] = {}

    def measure(budget: int) -> int | None:
        started = time.perf_counter()
        peak = probe(step, budget)
        seconds[budget] = time.perf_counter() - started
        probes.append(BudgetProbe(budget, peak))
        return peak

    low_peak = measure(smallest)
    if low_peak is None or low_peak > limit_bytes:
        return None
    best = BudgetChoice(smallest, low_peak, limit_bytes, probes, seconds=seconds[smallest])
    if smallest == largest:
        return best
    # Read the line through the smallest probe and the best fitting one so far; small probes
    # overstate the slope (fixed-size loss chunks, allocator rounding), so the line is re-read
    # after each confirmed probe that leaves room, growing toward the limit.
    candidate = min(largest, smallest * 2)
    for _ in range(MAX_CONFIRM_TRIES):
        peak = measure(candidate)
        if peak is not None and peak <= limit_bytes:
            best = BudgetChoice(candidate, peak, limit_bytes, probes, seconds=seconds[candidate])
            if candidate >= largest or peak > GOOD_ENOUGH * limit_bytes:
                break
            per_token = max((peak - low_peak) / (candidate - smallest), 1.0)
            grown = _round_down(candidate + (limit_bytes - peak) / per_token * HEADROOM)
            candidate = min(largest, grown)
        else:
            candidate = _round_down(best.budget + (candidate - best.budget) * BACKOFF / 2)
        if candidate <= best.budget:
            break
    best.probes = probes
    return best


def time_step(step: Callable[[int], None], budget: int, repeats: int = 2) -> float:
    """Seconds one `step(budget)` takes on the GPU: the last of `repeats` runs (the first warms the
    allocator and kernel caches)."""
    elapsed = 0.0
    for _ in range(repeats):
        torch.cuda.synchronize()
        started = time.perf_counter()
        step(budget)
        torch.cuda.synchronize()
        elapsed = time.perf_counter() - started
    release_memory()
    return elapsed


def faster_choice(
    without: BudgetChoice | None, with_checkpointing: BudgetChoice | None, seconds: Callable[[BudgetChoice], float]
) -> BudgetChoice | None:
    """Of the largest budget without activation checkpointing and the (larger) one with it, the one
    that trains more tokens per second, timed by `seconds(choice)`; the one that fits if only one does.

    Checkpointing buys tokens per step with a second forward pass. Which wins depends on the model
    and the machine: on a small model bound by kernel launches more tokens per step pay for the
    recomputation, on a large one they may not. So it is measured, not guessed."""
    if without is None or with_checkpointing is None:
        return with_checkpointing or without
    for choice in (without, with_checkpointing):
        choice.tokens_per_s = choice.budget / max(seconds(choice), 1e-9)
    return max((without, with_checkpointing), key=lambda choice: choice.tokens_per_s)
