"""The fast path's settings (tuner/fast/settings.py) and the plan made from them (tuner/fast/plan.py): which parts
run on CPU and on CUDA."""

from __future__ import annotations

import pytest

from tests.tuner.fast.tiny_qwen import tiny_qwen2, word_tokenizer
from tuner.fast.attention import ATTENTION_NAME
from tuner.fast.packing import PackedCollator
from tuner.fast.plan import choose_fast_path
from tuner.fast.settings import FastSettings


def test_settings_accept_yaml_booleans_for_switches():
    settings = FastSettings(gradient_checkpointing=False, liger=True, enabled=False, compile=True)
    assert (settings.gradient_checkpointing, settings.liger, settings.enabled, settings.compile) == ("off", "on", "off", "on")
    from hearth.errors import UserError

    with pytest.raises(UserError, match="fast.compile") as refused:
        FastSettings(compile="fast")
    assert "auto, on, off" in str(refused.value)


def test_plan_runs_on_cpu_without_its_gpu_parts_and_is_plain_when_off():
    model = tiny_qwen2()
    off = choose_fast_path(FastSettings(enabled="off"), model, has_cuda=False)
    assert not off.enabled and off.sft_config_overrides == {} and off.data_collator(word_tokenizer()) is None
    on = choose_fast_path(FastSettings(), model, has_cuda=False)  # auto: the fast path on CPU as well
    assert on.enabled and on.packing and on.chunked_loss and on.attention == ATTENTION_NAME and on.fused_lora
    assert not on.compile and not on.liger  # the GPU-only parts stay off
    assert on.checkpointing is None  # auto: decided by the memory probe, on CPU as on CUDA
    assert isinstance(on.data_collator(word_tokenizer()), PackedCollator)
    assert "packing on" in on.describe()
    parts_off = choose_fast_path(FastSettings(enabled="on", packing=False, chunked_loss=False), model, False)
    assert not parts_off.packing and not parts_off.chunked_loss and parts_off.data_collator(word_tokenizer()) is None


def test_plan_compiles_layers_on_cuda_by_default_but_not_4bit_models_and_then_leaves_liger_off():
    model = tiny_qwen2()
    cuda = choose_fast_path(FastSettings(), model, has_cuda=True)
    assert cuda.compile and cuda.compile_fallback and not cuda.liger and "compile on" in cuda.describe()
    assert not choose_fast_path(FastSettings(enabled="on"), model, has_cuda=False).compile
    forced = choose_fast_path(FastSettings(enabled="on", compile="on"), model, has_cuda=False)
    assert forced.compile and not forced.compile_fallback
    assert not choose_fast_path(FastSettings(compile=False), model, has_cuda=True).compile
    model.is_loaded_in_4bit = True
    assert not choose_fast_path(FastSettings(), model, has_cuda=True).compile
