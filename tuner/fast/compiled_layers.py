"""torch.compile over each decoder layer: fewer kernels and far less Python per token.

On a small model the step is bound by the CPU, not the GPU: a 0.5B eager step launches thousands
of small kernels (norms, RoPE, LoRA dropout and casts, residual adds) through Python and the
autograd engine, and the H100 waits on them (docs/benchmarks.md). Compiled, a layer's forward is
one guarded call into generated kernels with the elementwise work fused, and its backward is one
autograd node instead of dozens.

Every layer is compiled separately but they share code, so the first layer's graph is reused by the
rest (plus one variant for the first layer, whose input needs no gradient). Shapes are dynamic from
the start: packs differ in length step to step and must not trigger a recompile each. Activation
checkpointing, when on, is traced with the layer and recomputed inside the compiled backward.
"""

from __future__ import annotations

import torch

# Two variants per layer stack (first layer / the rest), doubled by the checkpointing switch the
# token-budget probe may flip: well inside this limit, which guards against unexpected recompiles.
RECOMPILE_LIMIT = 16


def decoder_layers(causal_lm: torch.nn.Module) -> torch.nn.ModuleList:
    return getattr(causal_lm, causal_lm.base_model_prefix).layers


def compile_decoder_layers(causal_lm: torch.nn.Module, backend: str = "inductor") -> int:
    """Compile every decoder layer of `causal_lm` in place; returns how many."""
    import torch._dynamo

    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, RECOMPILE_LIMIT)
    layers = decoder_layers(causal_lm)
    for layer in layers:
        layer.compile(backend=backend, dynamic=True)
    return len(layers)


def uncompile_decoder_layers(causal_lm: torch.nn.Module) -> None:
    """Back to eager layers (after a failed compile): `Module.compile` keeps its compiled callable
    in `_compiled_call_impl`, and a module without one runs its plain forward."""
    import torch._dynamo

    for layer in decoder_layers(causal_lm):
        layer._compiled_call_impl = None
    torch._dynamo.reset()
