"""Fitting the token budget (tuner/fast/token_budget.py): read the memory line, back off on out of memory,
time both budgets and keep the faster."""

from __future__ import annotations

import pytest

from tuner.fast.token_budget import BudgetChoice, faster_choice, fit_token_budget


def test_fit_token_budget_reads_the_line_and_backs_off_on_out_of_memory():
    # A fake GPU: 1000 bytes fixed + 3 bytes per token, out of memory past 9000 bytes.
    def probe(_step, budget):
        peak = 1000 + 3 * budget
        return None if peak > 9000 else peak

    choice = fit_token_budget(lambda b: None, limit_bytes=8000, smallest=512, largest=100_000, probe=probe)
    assert choice is not None and choice.peak_bytes <= 8000
    assert 2048 <= choice.budget <= (8000 - 1000) // 3
    assert fit_token_budget(lambda b: None, limit_bytes=500, smallest=512, largest=4096, probe=probe) is None


def test_faster_choice_times_both_budgets_and_keeps_the_one_with_more_tokens_per_second():
    without = BudgetChoice(4096, 7, 10, [])
    with_checkpointing = BudgetChoice(11264, 9, 10, [], checkpointing=True)
    timed = []

    def seconds(choice):
        timed.append(choice.budget)
        return {4096: 0.20, 11264: 0.45}[choice.budget]  # 20.5k against 25.0k tokens/s

    assert faster_choice(without, with_checkpointing, seconds) is with_checkpointing
    assert sorted(timed) == [4096, 11264] and with_checkpointing.tokens_per_s == pytest.approx(11264 / 0.45)
    slow_recompute = {4096: 0.10, 11264: 0.45}
    assert faster_choice(without, with_checkpointing, lambda c: slow_recompute[c.budget]) is without
    nothing_timed = lambda c: pytest.fail("only one fits: nothing to time")  # noqa: E731
    assert faster_choice(None, with_checkpointing, nothing_timed) is with_checkpointing
    assert faster_choice(without, None, nothing_timed) is without
    assert faster_choice(None, None, nothing_timed) is None


def test_fit_token_budget_grows_past_an_overstated_small_probe_slope():
    # Small steps look expensive (a fixed 600-byte chunk appears from 1024 tokens on), then 1 byte/token.
    def probe(_step, budget):
        return 1000 + budget + (600 if budget >= 1024 else 0)

    choice = fit_token_budget(lambda b: None, limit_bytes=40_000, smallest=512, largest=100_000, probe=probe)
    assert choice.peak_bytes <= 40_000 and choice.budget > 0.85 * (40_000 - 1600)
    capped = fit_token_budget(lambda b: None, limit_bytes=40_000, smallest=512, largest=8192, probe=probe)
    assert capped.budget == 8192
