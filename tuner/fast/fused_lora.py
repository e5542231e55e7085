"""One autograd function for a LoRA branch: dropout, A, B and the add, in the step's precision.

PEFT computes `base(x) + B(A(dropout(x))) * scale` as separate modules: `x` is copied to the
adapter's fp32 dtype, dropped out in fp32, cast back to bf16 by autocast for each matrix product,
and every piece is its own kernel and its own saved tensor. Profiled on an H100 (docs/benchmarks.md),
a 0.5B step spent more GPU time in dtype copies and fp32 dropout than in matrix products; fusing
took the 7B shape from 7.0k to 8.7k tokens/s.

Here the branch is one function: dropout in the activation dtype (on CUDA one kernel that also yields
the mask; on a CPU a mask from cheap 16-bit draws), `x A^T`, then `base_out + scale * (x A^T) B^T` as
a single GEMM with the add in its epilogue.
Backward is four small GEMMs and the mask; the adapter's gradients come out in fp32 straight from
the GEMM. Same function, same dropout semantics (inverted dropout, p from the recipe), fewer
launches and less memory. Layers PEFT handles specially (DoRA and other variants, LoRA bias,
mixed-adapter batches, merged or disabled adapters) keep PEFT's own forward.
"""

from __future__ import annotations

from types import MethodType

import torch
from torch import nn

from tuner.fast.cpu_bf16 import frozen_bf16_weight


def _mm_fp32(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b with an fp32 result, without rounding through the operands' half precision on CUDA."""
    if a.is_cuda and a.dtype in (torch.bfloat16, torch.float16):
        try:
            return torch.mm(a, b, out_dtype=torch.float32)
        except (TypeError, RuntimeError):
            pass
    return torch.mm(a.float(), b.float())


class _LoraBranch(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, base_out, lora_a, lora_b, scale, dropout_p):
        cpu_bf16 = not x.is_cuda and base_out.dtype == torch.bfloat16 and torch.is_autocast_enabled("cpu")
        with torch.autocast(x.device.type, enabled=False):
            dtype = base_out.dtype
            x2 = x.reshape(-1, x.shape[-1]).to(dtype)
            a = lora_a.to(dtype)
            b = lora_b.to(dtype)
            # On a CPU a cheaper mask (16-bit draws; native_dropout's were a fifth of a fp32 step), the
            # 1/(1-p) moved onto the [tokens, r] product. CUDA keeps native_dropout: one fused kernel there.
            unscaled = not x.is_cuda and dropout_p > 0
            if unscaled:
                dropped, mask = _kept_unscaled(x2, dropout_p)
                xa = (dropped @ a.t()).mul_(1.0 / (1.0 - dropout_p))
            elif dropout_p > 0:
                dropped, mask = torch.native_dropout(x2, dropout_p, True)
                xa = dropped @ a.t()
            else:
                dropped, mask = x2, None
                xa = dropped @ a.t()
            if cpu_bf16:
                # The adapter's small update added in fp32: rounded into the bf16 base output it mostly
                # vanished (below half a bf16 step), so the loss read ~1% high once B had grown (measured).
                out = base_out.reshape(-1, base_out.shape[-1]).float()  # a fresh copy (base_out is bf16): add in place
                out.addmm_(xa.float(), lora_b.float().t(), alpha=scale)
            else:
                out = torch.addmm(base_out.reshape(-1, base_out.shape[-1]), xa, b.t(), alpha=scale)
        # On the CPU in fp32 keep x and the 1-byte mask instead of the dropped copy: q/k/v (and
        # gate/up) read the same x, so it is kept once; backward redoes one multiply (same bits).
        ctx.redo_dropout = mask is not None and not x.is_cuda and x.dtype == dtype == torch.float32
        ctx.unscaled = unscaled
        ctx.save_for_backward(x2 if ctx.redo_dropout else dropped, mask, xa, a, b)
        ctx.scale, ctx.dropout_p, ctx.x_dtype = scale, dropout_p, x.dtype
        ctx.x_shape, ctx.a_dtype, ctx.b_dtype = x.shape, lora_a.dtype, lora_b.dtype
        ctx.base_dtype = base_out.dtype
        return out.view(*base_out.shape[:-1], out.shape[-1])

    @staticmethod
    def backward(ctx, grad_out):
        dropped, mask, xa, a, b = ctx.saved_tensors
        if ctx.redo_dropout:
            dropped = torch.where(mask, dropped, 0)  # the CPU's unscaled copy (its 1/(1-p) is applied to grad_a)
        scale = ctx.scale
        g_out = grad_out.reshape(-1, grad_out.shape[-1])  # fp32 under the CPU's bf16 step (its add was fp32)
        g = g_out.to(xa.dtype)  # cast once: the same copy is the base output's gradient below
        g_b = (g @ b).mul_(scale)  # [tokens, r]: the gradient reaching x A^T
        grad_a = grad_b = grad_x = None
        if ctx.needs_input_grad[3]:
            grad_b = _mm_fp32(g_out.t(), xa).mul_(scale).to(ctx.b_dtype)
        if ctx.needs_input_grad[2]:
            grad_a = _mm_fp32(g_b.t(), dropped)
            if ctx.unscaled:
                grad_a.mul_(1.0 / (1.0 - ctx.dropout_p))
            grad_a = grad_a.to(ctx.a_dtype)
        if ctx.needs_input_grad[0]:
            grad_x = g_b @ a
            if mask is not None:
                grad_x = torch.ops.aten.native_dropout_backward(grad_x, mask, 1.0 / (1.0 - ctx.dropout_p))
            grad_x = grad_x.view(ctx.x_shape).to(ctx.x_dtype)
        grad_base = g.view(grad_out.shape) if g.dtype == ctx.base_dtype else grad_out.to(ctx.base_dtype)
        return grad_x, grad_base, grad_a, grad_b, None, None


def _kept_unscaled(x: torch.Tensor, p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Dropout's mask and x with the dropped entries zeroed, not yet scaled by 1/(1-p): each entry kept
    with probability 1-p, as `native_dropout`, to within 2^-17 (p on a 16-bit grid). The draws are
    16-bit integers, four from each 64-bit one: a CPU's generator makes one mt19937 number per
    element whatever its width, so this is ~3.5x cheaper than fp32 uniforms, which made dropout a
    quarter of a bf16 step on an AMX CPU (docs/benchmarks.md). Other draws than PEFT's for the same
    seed, the same distribution. Used on every CPU step, fp32 too: there it took a fp32 step of the real base
    from 190 to ~230 tokens/s on an AVX-512 CPU."""
    count = x.numel()
    bits = torch.empty((count + 3) // 4, dtype=torch.int64, device=x.device).random_(-(2**63), None)
    draws = bits.view(torch.int16)[:count].view(x.shape)  # each uniform on [-2^15, 2^15)
    keep = draws >= round(p * 65536) - 32768
    return torch.where(keep, x, 0), keep


def _cpu_bf16_autocast(x: torch.Tensor) -> bool:
    return not x.is_cuda and torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


class _LastCast:
    """x in bf16, cast once for the layers that read it one after another (q/k/v, gate/up): each of
    them, and autocast inside each base layer, would otherwise cast the same fp32 input again."""

    source: torch.Tensor | None = None
    version = -1
    cast: torch.Tensor | None = None

    @classmethod
    def of(cls, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.bfloat16:
            return x
        if cls.source is not x or cls.version != x._version or cls.cast.requires_grad != x.requires_grad:
            cls.source, cls.version, cls.cast = x, x._version, x.to(torch.bfloat16)
        return cls.cast

    @classmethod
    def clear(cls) -> None:
        cls.source = cls.cast = None


def forget_last_cast() -> None:
    """Drop the held input and its cast (at the end of a step: they are not needed past it)."""
    _LastCast.clear()


def _base_forward(base: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The frozen layer's output; under the CPU's bf16 autocast from its cached bf16 weight."""
    if type(base) is nn.Linear and not base.weight.requires_grad:
        return nn.functional.linear(x, frozen_bf16_weight(base), base.bias)
    return base(x)


def _lora_branch_traced(x, base_out, lora_a, lora_b, scale, dropout_p):
    """The same branch as plain tensor operations, for a compiled layer: the compiler derives the
    backward and fuses the dropout, casts and scaling into neighbouring kernels by itself."""
    dtype = base_out.dtype
    # training=True always: p is 0.0 outside training, and a traced p is symbolic (no bool test on it)
    dropped = torch.nn.functional.dropout(x.to(dtype), dropout_p, training=True)
    return base_out + (dropped @ lora_a.to(dtype).t()) @ lora_b.to(dtype).t() * scale


def _fusable(layer, adapter: str) -> bool:
    lora_a, lora_b = layer.lora_A[adapter], layer.lora_B[adapter]
    dropout = layer.lora_dropout[adapter]
    return (
        isinstance(lora_a, nn.Linear)
        and isinstance(lora_b, nn.Linear)
        and lora_a.bias is None
        and lora_b.bias is None
        and adapter not in getattr(layer, "lora_variant", {})
        and isinstance(dropout, (nn.Dropout, nn.Identity))
    )


def _fused_forward(original_forward):
    def forward(self, x, *args, **kwargs):
        active = [name for name in self.active_adapters if name in self.lora_A]
        if args or kwargs or self.disable_adapters or self.merged or len(active) != 1 or not _fusable(self, active[0]):
            if self.merged:
                self.base_layer.__dict__.pop("_hearth_bf16_weight", None)
            return original_forward(x, *args, **kwargs)
        name = active[0]
        dropout = self.lora_dropout[name]
        p = dropout.p if isinstance(dropout, nn.Dropout) and self.training else 0.0
        if _cpu_bf16_autocast(x):  # the CPU's bf16 step: one cast of x, the frozen weight's bf16 copy
            x = _LastCast.of(x)
            base_out = _base_forward(self.base_layer, x)
        else:
            base_out = self.base_layer(x)
        lora_a, lora_b, scale = self.lora_A[name].weight, self.lora_B[name].weight, float(self.scaling[name])
        if torch.compiler.is_compiling():
            return _lora_branch_traced(x, base_out, lora_a, lora_b, scale, p)
        return _LoraBranch.apply(x, base_out, lora_a, lora_b, scale, float(p))

    return forward


def install_fused_lora(model: nn.Module) -> int:
    """Route every PEFT LoRA linear layer of `model` through the fused branch; returns how many."""
    from peft.tuners.lora import LoraLayer

    count = 0
    for module in model.modules():
        if isinstance(module, LoraLayer) and hasattr(module, "base_layer") and not getattr(module, "_hearth_fused", False):
            if not all(isinstance(module.lora_A[n], nn.Linear) for n in module.lora_A):
                continue
            module.forward = MethodType(_fused_forward(module.forward), module)
            module._hearth_fused = True
            count += 1
    return count
