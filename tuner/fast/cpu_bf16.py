"""bf16 matrix products on a CPU that multiplies bf16 natively (`fast.cpu_bf16`).

A fp32 model on a CPU spends most of a LoRA step in matrix products (64% of a SmolLM2-135M step,
profiled in docs/benchmarks.md). CPUs with AVX-512 BF16 or AMX run bf16 products 2.5-3x faster
than fp32 ones (oneDNN, fp32 accumulation inside). Under `torch.autocast("cpu", bfloat16)` the
linear layers and attention take bf16 operands while the weights, the residual stream, the norms,
the softmax and the optimizer stay fp32 — the same mixed precision as bf16 training on a GPU, so
the loss is close to fp32's but not bit-equal (measured over the bench's steps in
docs/benchmarks.md). Without native bf16 the products are emulated and slower, so "auto" leaves
such CPUs in fp32.
"""

from __future__ import annotations

import contextlib
from functools import cache
from pathlib import Path

import torch

# /proc/cpuinfo flags that mean bf16 products run in hardware (AVX-512 BF16 on Zen 4+/Cooper Lake+, AMX on Sapphire Rapids+).
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@cache
def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    return any(flag in _cpu_flags(cpuinfo) for flag in NATIVE_BF16_FLAGS)


def _cpu_flags(cpuinfo: str) -> list[str]:
    try:
        text = Path(cpuinfo).read_text()
    except OSError:  # not Linux: no cheap way to know (no native bf16 is then assumed)
        return []
    return next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])


@cache
def cpu_attention_in_fp32(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Under the CPU's bf16 autocast, attention runs in fp32 unless the CPU has AMX: on AVX-512 BF16
    without AMX (Zen 4) the flash kernel in bf16 was 1.07x slower than in fp32 over one 472-token
    conversation and 1.2-1.6x slower over packs of two to four (bench/cpu_attention.py), and the whole
    step went from 182 to 206 tokens/s. On AMX, where the bf16 step was measured at 2.93x plain with
    bf16 attention, it stays until a bench there says otherwise."""
    return "amx_bf16" not in _cpu_flags(cpuinfo)


def wants_cpu_bf16(setting: str, model_dtype: torch.dtype, has_cuda: bool) -> bool:
    """"on": always on a CPU; "auto": where the CPU multiplies bf16 natively; never for a model that is
    already in half precision (it runs in its own dtype) nor on CUDA (the recipe's dtype decides there)."""
    if has_cuda or setting == "off" or model_dtype != torch.float32:
        return False
    return setting == "on" or cpu_has_native_bf16()


def cpu_bf16_autocast() -> contextlib.AbstractContextManager:
    return torch.autocast("cpu", dtype=torch.bfloat16)


def frozen_bf16_weight(layer: torch.nn.Module) -> torch.Tensor:
    """A frozen layer's weight in bf16, made once: autocast would otherwise cast every fp32 weight at
    every forward (~0.2 s a step on the CPU for the projections, ~0.1 s for a 49k-token head). Made
    again when the weight is written in place; PEFT's merge writes through `.data`, which no version
    counter sees, so a merged layer drops the copy (tuner/fast/fused_lora.py)."""
    version = layer.weight._version
    cached = layer.__dict__.get("_hearth_bf16_weight")
    if cached is None or cached[0] != version:
        cached = (version, layer.weight.detach().to(torch.bfloat16))
        layer.__dict__["_hearth_bf16_weight"] = cached
    return cached[1]


def frozen_projections_to_bf16(model: torch.nn.Module) -> int:
    """Under `fast.cpu_bf16` a LoRA layer's frozen base weight is only ever read as its bf16 copy, so the fp32
    original beside it was dead weight: ~0.4 GB for SmolLM2-135M, whose bf16 step peaked at 2.87 GiB against the
    fp32 step's 2.32 (docs/benchmarks.md). The weight itself becomes bf16 (its copy is then itself). The adapter,
    norms, embeddings and optimizer stay fp32, and a run saves only the adapter; every forward of the training
    process runs under the step's autocast (FastSFTTrainer.compute_loss_context_manager), the merge and the eval
    load the base afresh. Returns how many weights changed."""
    from peft.tuners.lora import LoraLayer

    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    tied = embeddings.weight if embeddings is not None else None  # a LoRA'd head tied to them: keep both fp32
    changed = 0
    for module in model.modules():
        base = module.get_base_layer() if isinstance(module, LoraLayer) else None
        if (type(base) is torch.nn.Linear and not base.weight.requires_grad and base.weight.dtype == torch.float32
                and base.weight is not tied):
            base.weight.data = base.weight.data.to(torch.bfloat16)
            base.__dict__.pop("_hearth_bf16_weight", None)
            changed += 1
    return changed
