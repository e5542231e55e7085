"""Cross-entropy through the output head, a chunk of positions at a time.

Only the positions that have a target (assistant tokens) come in, so prompt tokens never reach
the 151,936-column head, and at most [chunk, vocabulary] logits exist at any moment. The gradient
is worked out in the same pass (softmax minus one-hot, times the head weight), so backward is a
single multiply by the incoming scalar: two matrix products per chunk, none recomputed.

Logits are accumulated in fp32 (as the plain path's fused head does): rounding each chunk's
product to bf16 before the softmax would bias the loss. The one exception is the CPU's bf16 step
(`fast.cpu_bf16`): the CPU has no bf16 product with an fp32 result, so there the logits are rounded
to bf16 (then upcast for the softmax) in exchange for a 2-3x faster head; the loss stays within
~0.1% (tests/tuner/fast/test_cpu_bf16.py, docs/benchmarks.md).
"""

from __future__ import annotations

import torch

def _compute_dtype(hidden: torch.Tensor, weight: torch.Tensor, requested: torch.dtype | None) -> torch.dtype:
    """The matmul operands' dtype: on CUDA the run's half precision (its autocast dtype, or either
    side's dtype: QLoRA keeps the head and final norm in fp32 after `prepare_model_for_kbit_training`);
    on the CPU bf16 when asked (the CPU's bf16 autocast, `fast.cpu_bf16`), fp32 otherwise. The
    softmax and the loss are fp32 either way."""
    if not hidden.is_cuda:
        return torch.bfloat16 if requested == torch.bfloat16 else torch.float32
    halves = [t.dtype for t in (hidden, weight) if t.dtype in (torch.bfloat16, torch.float16)]
    return requested or (halves[0] if halves else torch.float32)


def _logits_fp32(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    if hidden.is_cuda and hidden.dtype in (torch.bfloat16, torch.float16):
        try:  # fp32 output straight from half-precision operands (CUDA, PyTorch >= 2.8)
            logits = torch.mm(hidden, weight.t(), out_dtype=torch.float32)
        except (TypeError, RuntimeError):  # older PyTorch: upcast the operands instead
            logits = hidden.float() @ weight.float().t()
    elif not hidden.is_cuda and hidden.dtype == torch.bfloat16:
        # The CPU has no fp32-output bf16 product: oneDNN accumulates in fp32 and rounds the logits to
        # bf16 (a relative 2^-9), 2-3x faster than fp32 operands; the loss stays close (docs/benchmarks.md).
        logits = (hidden @ weight.t()).float()
    else:
        logits = hidden.float() @ weight.float().t()
    if bias is not None:
        logits += bias.float()
    return logits


class _ChunkedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk_tokens, compute_dtype):
        # Autocast would round the fp32 logits back to bf16; this function picks its own precisions.
        with torch.autocast(hidden.device.type, enabled=False):
            return _ChunkedCrossEntropy._forward(ctx, hidden, weight, bias, targets, chunk_tokens, compute_dtype)

    @staticmethod
    def _forward(ctx, hidden, weight, bias, targets, chunk_tokens, compute_dtype):
        ctx.hidden_dtype, ctx.weight_dtype = hidden.dtype, weight.dtype
        ctx.bias_dtype = None if bias is None else bias.dtype
        need_hidden_grad, need_weight_grad, need_bias_grad = ctx.needs_input_grad[:3]
        dtype = _compute_dtype(hidden, weight, compute_dtype)
        hidden, weight = hidden.to(dtype), weight.to(dtype)  # no copy when already in `dtype`
        loss_sum = torch.zeros((), dtype=torch.float32, device=hidden.device)
        num_correct = torch.zeros((), dtype=torch.long, device=hidden.device)
        grad_hidden = torch.empty_like(hidden) if need_hidden_grad else None
        grad_weight = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_weight_grad else None
        grad_bias = torch.zeros(weight.shape[0], dtype=torch.float32, device=weight.device) if need_bias_grad else None
        for start in range(0, hidden.shape[0], chunk_tokens):
            h = hidden[start : start + chunk_tokens]
            t = targets[start : start + chunk_tokens]
            logits = _logits_fp32(h, weight, bias)
            rows = torch.arange(t.shape[0], device=t.device)
            target_logit = logits[rows, t]
            top, best = logits.max(dim=-1)
            num_correct += (best == t).sum()
            # One exp pass over the [chunk, vocabulary] buffer, in place, serves both the log-sum-exp
            # and the softmax (logsumexp, then exp(logits - lse), would make two).
            unnormalised = logits.sub_(top.unsqueeze(1)).exp_()
            total = unnormalised.sum(dim=-1)
            loss_sum += (top + total.log() - target_logit).sum()
            if grad_hidden is None and grad_weight is None and grad_bias is None:
                continue
            # d(loss_sum)/d(logits) = softmax - onehot, built in place over the logits buffer
            grad_logits = unnormalised.div_(total.unsqueeze(1))
            grad_logits[rows, t] -= 1.0
            if grad_bias is not None:
                grad_bias += grad_logits.sum(0)
            grad_logits = grad_logits.to(dtype)
            if grad_hidden is not None:
                torch.mm(grad_logits, weight, out=grad_hidden[start : start + chunk_tokens])
            if grad_weight is not None:
                grad_weight.addmm_(grad_logits.t().float(), h.float())
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        ctx.mark_non_differentiable(num_correct)
        return loss_sum, num_correct

    @staticmethod
    def backward(ctx, grad_loss, _grad_correct):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        scale = grad_loss.float()
        return (
            None if grad_hidden is None else (grad_hidden * scale.to(grad_hidden.dtype)).to(ctx.hidden_dtype),
            None if grad_weight is None else (grad_weight * scale).to(ctx.weight_dtype),
            None if grad_bias is None else (grad_bias * scale).to(ctx.bias_dtype),
            None,
            None,
            None,
        )


def chunked_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    *,
    bias: torch.Tensor | None = None,
    chunk_tokens: int = 1024,
    compute_dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of cross-entropy of `hidden @ weight.T (+ bias)` against `targets`, and the top-1 hits.

    `hidden` is [positions, hidden] (only positions with a target), `targets` [positions]. Returns
    (loss_sum as fp32 scalar with gradients to hidden/weight/bias, number of argmax hits).
    `compute_dtype` sets the matmul operands' precision on CUDA (default: whichever side is half).
    """
    if hidden.shape[0] == 0:
        zero = hidden.sum() * 0.0  # keeps the graph connected, so backward still runs on empty packs
        return zero.float(), torch.zeros((), dtype=torch.long, device=hidden.device)
    return _ChunkedCrossEntropy.apply(hidden, weight, bias, targets, chunk_tokens, compute_dtype)
