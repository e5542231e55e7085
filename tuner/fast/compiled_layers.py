"""torch.compile over each decoder layer: fewer kernels and far less Python per token.

On a small model the step is bound by the CPU, not the GPU: a 0.5B eager step launches thousands
of small kernels (norms, RoPE, LoRA dropout and casts, residual adds) through Python and the
autograd engine, and the H100 waits on them (docs/benchmarks.md). Compiled, a layer's forward is
one guarded call into generated kernels with the elementwise work fused, and its backward is one
autograd node instead of dozens.

All layers share one compiled function of the layer's own forward (the layer is an argument, so
its weights are inputs, not constants): the first layer's graph serves the rest, plus one variant
for the first layer, whose input needs no gradient. Shapes are dynamic from the start: packs
differ in length step to step and must not trigger a recompile each.

Activation checkpointing stays outside the compiled function, as PyTorch's eager checkpoint around
the compiled call: it keeps only each layer's input and recomputes the layer by running the compiled
forward again. Traced inside the graph instead, the compiler's partitioner keeps ~10x more per token
(33.5 KiB against 3.5 KiB per token per layer on the 0.5B shape, measured on CPU with the same
partitioner), which would shrink the token budget the GPU's memory allows.
"""

from __future__ import annotations

from functools import partial
from types import MethodType
from typing import Callable

import torch
import torch.utils.checkpoint

# A handful of variants per run (first layer / the rest; training / evaluation without gradients; a
# pack of one conversation): well inside this limit, which still stops a runaway of recompiles.
RECOMPILE_LIMIT = 16


def decoder_layers(causal_lm: torch.nn.Module) -> torch.nn.ModuleList:
    return getattr(causal_lm, causal_lm.base_model_prefix).layers


def _layer_forward(layer: torch.nn.Module):
    """The layer's own forward: transformers wraps it with its checkpointing switch (`__wrapped__`)."""
    forward = type(layer).forward
    return getattr(forward, "__wrapped__", forward)


def _compiled_forward(compiled: Callable):
    def forward(self, *args, **kwargs):
        if getattr(self, "gradient_checkpointing", False) and self.training:
            checkpoint = getattr(self, "_gradient_checkpointing_func", None) or partial(
                torch.utils.checkpoint.checkpoint, use_reentrant=False
            )
            return checkpoint(partial(compiled, self), *args, **kwargs)
        return compiled(self, *args, **kwargs)

    return forward


def compile_decoder_layers(causal_lm: torch.nn.Module, backend: str = "inductor") -> int:
    """Compile every decoder layer of `causal_lm` in place; returns how many."""
    import torch._dynamo

    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, RECOMPILE_LIMIT)
    layers = decoder_layers(causal_lm)
    compiled = torch.compile(_layer_forward(layers[0]), backend=backend, dynamic=True)
    for layer in layers:
        layer.forward = MethodType(_compiled_forward(compiled), layer)
    return len(layers)


def uncompile_decoder_layers(causal_lm: torch.nn.Module) -> None:
    """Back to the eager layers (after a failed compile): drop the per-layer forward set above, so
    each layer's class forward (with transformers' own checkpointing switch) runs again."""
    import torch._dynamo

    for layer in decoder_layers(causal_lm):
        layer.__dict__.pop("forward", None)
    torch._dynamo.reset()
