"""The engine on tiny GGUF models: streaming, stopping, cancel, the <think> split, limits, stats,
KV-prefix reuse, LoRA loading errors, and llama.cpp's silence."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from companion.engine import CANCELLED, LENGTH, STOP
from companion.reasoning import ANSWER, REASONING
from hearth.errors import UserError

from scripted_model import SCRIPTED_ANSWER, SCRIPTED_REASONING

HELLO = [{"role": "system", "content": "你是林栀。"}, {"role": "user", "content": "你好"}]


def test_scripted_model_stops_on_its_end_of_turn_token(scripted_gguf, engine_factory):
    engine = engine_factory(scripted_gguf, max_reply_tokens=200)
    reply = engine.complete(HELLO)
    assert reply.finish_reason == STOP
    assert reply.completion_tokens < 30  # stopped at <|im_end|>, far before the 200-token limit
    assert reply.text == SCRIPTED_ANSWER


def test_reasoning_is_split_from_the_answer_while_streaming(scripted_gguf, engine_factory):
    engine = engine_factory(scripted_gguf)
    stream = engine.stream(HELLO)
    chunks = list(stream)
    reasoning = "".join(c.text for c in chunks if c.kind == REASONING)
    answer = "".join(c.text for c in chunks if c.kind == ANSWER)
    assert (reasoning, answer) == (SCRIPTED_REASONING, SCRIPTED_ANSWER)
    assert "<think>" not in answer and "</think>" not in answer
    assert [c.kind for c in chunks][0] == REASONING and [c.kind for c in chunks][-1] == ANSWER
    assert (stream.reply.reasoning, stream.reply.text) == (SCRIPTED_REASONING, SCRIPTED_ANSWER)


def test_streams_many_chunks_and_stops_at_the_reply_limit(random_gguf, engine_factory):
    engine = engine_factory(random_gguf, max_reply_tokens=40)
    stream = engine.stream(HELLO)
    chunks = list(stream)
    reply = stream.reply
    assert len(chunks) > 5
    assert reply.finish_reason == LENGTH and reply.completion_tokens == 40
    assert "".join(c.text for c in chunks if c.kind == ANSWER).strip() == reply.text
    assert reply.ttft_s > 0 and reply.tokens_per_s and reply.tokens_per_s > 0
    assert reply.prompt_tokens == len(engine.prompt(HELLO).tokens)


def test_cancel_stops_the_reply_within_a_token(random_gguf, engine_factory):
    engine = engine_factory(random_gguf, max_reply_tokens=500)
    cancel = threading.Event()
    stream = engine.stream(HELLO, cancel=cancel)
    seen = 0
    for _ in stream:
        seen += 1
        if seen == 3:
            cancel.set()
    assert stream.reply.finish_reason == CANCELLED
    assert stream.reply.completion_tokens <= 6  # a chunk may hold a few tokens' bytes; never hundreds


def test_abandoning_the_stream_counts_as_cancel_and_frees_the_engine(random_gguf, engine_factory):
    engine = engine_factory(random_gguf, max_reply_tokens=500)
    stream = engine.stream(HELLO)
    iterator = iter(stream)
    next(iterator)
    iterator.close()
    assert stream.reply.finish_reason == CANCELLED
    assert engine.complete(HELLO, max_tokens=5).completion_tokens == 5  # not stuck "busy"


def test_next_turn_reuses_the_kv_cache_of_the_shared_prefix(scripted_gguf, engine_factory):
    engine = engine_factory(scripted_gguf)
    first = engine.complete(HELLO)
    follow_up = HELLO + [{"role": "assistant", "content": first.text}, {"role": "user", "content": "再说一遍"}]
    second = engine.complete(follow_up)
    assert first.reused_tokens == 0
    assert second.reused_tokens >= first.prompt_tokens


def test_the_reply_never_runs_past_the_context(random_gguf, engine_factory):
    engine = engine_factory(random_gguf, n_ctx=128, max_reply_tokens=100)
    long_history = [{"role": "user", "content": "你好 " * 30}]
    prompt_tokens = len(engine.prompt(long_history).tokens)
    reply = engine.complete(long_history)
    assert prompt_tokens + reply.completion_tokens <= 128


def test_a_prompt_as_long_as_the_context_is_refused(random_gguf, engine_factory):
    engine = engine_factory(random_gguf, n_ctx=64, max_reply_tokens=8)
    with pytest.raises(UserError, match="context"):
        engine.stream([{"role": "user", "content": "你好，今天过得怎么样？" * 40}])


def test_missing_files_and_non_gguf_files_are_user_errors(tmp_path, random_gguf, engine_factory):
    with pytest.raises(UserError, match="not found"):
        engine_factory(tmp_path / "nope.gguf")
    with pytest.raises(UserError, match="LoRA adapter file not found"):
        engine_factory(random_gguf, lora_path=tmp_path / "missing-lora.gguf")
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all" * 100)
    with pytest.raises(UserError, match="could not load"):
        engine_factory(junk)


LOAD_AND_REPLY = (
    "import sys\n"
    "from companion.engine import Engine\n"
    "from companion.settings import EngineSettings\n"
    "e = Engine(EngineSettings(model_path=sys.argv[1], n_ctx=256, n_threads=1, temperature=0, max_reply_tokens=4))\n"
    "e.complete([{'role': 'user', 'content': 'hi'}])\n"
    "print('done')\n"
)


@pytest.mark.parametrize("verbose", [False, True])
def test_llama_cpp_logging_is_silent_unless_verbose(random_gguf, verbose, monkeypatch):
    env = {"HEARTH_VERBOSE": "1"} if verbose else {}
    monkeypatch.delenv("HEARTH_VERBOSE", raising=False)
    import os

    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_REPLY, str(random_gguf)],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done"
    if verbose:
        assert "llama" in result.stderr  # llama.cpp's own loading log
    else:
        assert result.stderr == ""


@pytest.fixture(scope="module")
def lora_gguf(tiny_base_dir, tmp_path_factory):
    """A PEFT LoRA on the tiny base with random (non-zero) B, exported as a GGUF adapter."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from exporter.lora import export_lora

    work = tmp_path_factory.mktemp("lora")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_base_dir)
    peft_model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"]))
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
    peft_model.save_pretrained(work / "adapter")
    return export_lora(work / "adapter", work / "tiny-lora.gguf", base_dir=tiny_base_dir).path


def test_a_lora_adapter_changes_the_reply_and_scale_zero_turns_it_off(random_gguf, lora_gguf, engine_factory):
    def first_tokens(**settings):
        engine = engine_factory(random_gguf, max_reply_tokens=12, **settings)
        reply = engine.complete(HELLO)
        tokens = engine._llm._input_ids.tolist()[-reply.completion_tokens + 1:]
        engine.close()
        return reply.text, tokens

    base = first_tokens()
    adapted = first_tokens(lora_path=lora_gguf, lora_scale=1.0)
    switched_off = first_tokens(lora_path=lora_gguf, lora_scale=0.0)
    assert adapted != base
    assert switched_off == base
