"""Context budgeting with an exact toy tokenizer (one token per character, ChatML-like overhead)."""

from __future__ import annotations

import pytest

from companion.budget import ContextBudget, PromptParts
from hearth.errors import UserError

OVERHEAD, GENERATION_PROMPT = 5, 3


def count_text(text: str) -> int:
    return len(text)


def count_prompt(messages: list[dict]) -> int:
    return sum(len(m["content"]) + OVERHEAD for m in messages) + GENERATION_PROMPT


def make_budget(n_ctx=2048, reply=128):
    return ContextBudget(n_ctx, reply, count_text, count_prompt)


SYSTEM = "系" * 200
EXAMPLES = [[{"role": "user", "content": "例" * 40}, {"role": "assistant", "content": "答" * 60}]] * 2
NOTE = "记住" * 10


def conversation(turns: int, user_len=40, reply_len=60, greeting=True) -> list[dict]:
    history = [{"role": "assistant", "content": "开场白"}] if greeting else []
    for i in range(turns):
        history.append({"role": "user", "content": f"{i:04d}" + "问" * (user_len - 4)})
        history.append({"role": "assistant", "content": f"{i:04d}" + "答" * (reply_len - 4)})
    return history


def fit(history, budget=None, **parts):
    budget = budget or make_budget()
    return budget.fit(PromptParts(system=SYSTEM, examples=EXAMPLES, history=history, note=NOTE, **parts))


def test_a_short_chat_keeps_everything():
    history = conversation(3) + [{"role": "user", "content": "新问题"}]
    fitted = fit(history)
    assert fitted.examples_kept and fitted.first_history_index == 0
    assert fitted.messages[0] == {"role": "system", "content": SYSTEM}
    assert fitted.messages[-1] == {"role": "system", "content": NOTE}
    assert fitted.messages[-2] == {"role": "user", "content": "新问题"}
    assert fitted.prompt_tokens == count_prompt(fitted.messages)


def test_never_over_the_limit_and_always_keeps_system_and_newest_message():
    budget = make_budget()
    for turns in range(0, 300, 7):
        history = conversation(turns) + [{"role": "user", "content": "最新" * 30}]
        fitted = fit(history, budget)
        assert fitted.prompt_tokens <= 2048 - 128
        assert fitted.messages[0]["content"] == SYSTEM
        assert fitted.messages[-2]["content"] == "最新" * 30


def test_example_dialogue_goes_before_any_real_history():
    kept_all = [t for t in range(60) if fit(conversation(t) + [{"role": "user", "content": "?"}]).examples_kept]
    first_without = max(kept_all) + 1
    fitted = fit(conversation(first_without) + [{"role": "user", "content": "?"}])
    assert not fitted.examples_kept
    assert fitted.first_history_index == 0  # the examples went; every real message is still there


def test_history_is_trimmed_in_blocks_so_the_prompt_start_stays_put():
    starts = []
    for turns in range(200):
        fitted = fit(conversation(turns) + [{"role": "user", "content": "问" * 40}])
        starts.append(fitted.first_history_index)
    assert starts == sorted(starts)  # only ever moves forward
    moved_at = [turn for turn in range(1, 200) if starts[turn] != starts[turn - 1]]
    assert len(moved_at) >= 3
    # big steps, rarely: each drops about half the room (~7 exchanges of 112 tokens here), not one per turn
    assert all(b - a >= 5 for a, b in zip(moved_at, moved_at[1:]))
    assert all(starts[t] - starts[t - 1] >= 2 * 5 for t in moved_at)
    # between moves, consecutive prompts share their whole beginning (what the KV cache keeps)
    previous = None
    for turns in range(100, 140):
        fitted = fit(conversation(turns) + [{"role": "user", "content": "问" * 40}])
        if previous is not None and fitted.first_history_index == previous.first_history_index:
            old_start = previous.messages[:-2]  # all but the old newest message and the note
            assert fitted.messages[: len(old_start)] == old_start
        previous = fitted


def test_trimmed_history_starts_with_a_user_turn():
    for turns in range(40, 200, 13):
        fitted = fit(conversation(turns) + [{"role": "user", "content": "问"}])
        if fitted.trimmed:
            assert fitted.messages[1]["role"] == "user"


def test_the_same_chat_is_always_fitted_the_same_way():
    history = conversation(150) + [{"role": "user", "content": "问"}]
    assert fit(history).messages == fit(list(history)).messages


def test_a_message_too_long_for_any_context_is_a_user_error():
    with pytest.raises(UserError, match="newest message"):
        fit(conversation(2) + [{"role": "user", "content": "长" * 3000}])


def test_the_exact_count_has_the_last_word():
    # a tokenizer that charges far more than the estimate still never overflows
    budget = ContextBudget(2048, 128, count_text, lambda ms: 2 * count_prompt(ms))
    for turns in (10, 50, 120):
        fitted = fit(conversation(turns) + [{"role": "user", "content": "问"}], budget)
        assert 2 * count_prompt(fitted.messages) <= 2048 - 128
