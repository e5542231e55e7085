"""Attention for packed rows: each conversation attends only to itself, at the cost of itself.

Registered with transformers as the attention implementation "hearth_varlen". With the packing
collator's `cu_seq_lens_q` (conversation boundaries) it runs PyTorch's FlashAttention varlen
kernel on CUDA: no [tokens, tokens] mask is ever built, and a pack of 50 conversations costs 50
small attentions instead of one dense one. On CPU (tests) the same boundaries drive one SDPA call
per conversation, the reference the CUDA kernel is checked against; under the CPU's bf16 autocast
those calls run in fp32 where the CPU's bf16 kernel is the slower one (`cpu_attention_in_fp32`).
A padded batch (an attention mask present) goes to transformers' own SDPA path unchanged.
"""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface, sdpa_mask

from tuner.fast.cpu_bf16 import cpu_attention_in_fp32

ATTENTION_NAME = "hearth_varlen"

try:  # PyTorch >= 2.10 ships FlashAttention varlen; older builds fall back to SDPA packing
    from torch.nn.attention.varlen import varlen_attn
except ImportError:  # pragma: no cover - depends on the torch build
    varlen_attn = None


def varlen_kernel_available(device: torch.device | str = "cuda") -> bool:
    return varlen_attn is not None and torch.device(device).type == "cuda" and torch.cuda.is_available()


def _causal_kwargs() -> dict:
    # The causal switch moved from `is_causal` to a (left, right) window across PyTorch releases.
    params = inspect.signature(varlen_attn).parameters
    kwargs = {"is_causal": True} if "is_causal" in params else {"window_size": (-1, 0)}
    if "enable_gqa" in params:
        kwargs["enable_gqa"] = True
    return kwargs


def _kernel_takes_grouped_heads(kwargs: dict) -> bool:
    """One tiny call: does this build's kernel read fewer K/V heads than query heads?"""
    q = torch.zeros(2, 2, 64, device="cuda", dtype=torch.bfloat16)
    kv = torch.zeros(2, 1, 64, device="cuda", dtype=torch.bfloat16)
    cu = torch.tensor([0, 2], device="cuda", dtype=torch.int32)
    try:
        varlen_attn(q, kv, kv, cu, cu, 2, 2, **kwargs)
    except RuntimeError:
        return False
    return True


# Decided once at registration, outside any compiled region: (kernel kwargs, reads grouped K/V heads).
_KERNEL: tuple[dict, bool] | None = None


def _boundaries(kwargs: dict) -> tuple[torch.Tensor, int] | None:
    """Conversation boundaries from the collator, or from restarting position ids (one row only)."""
    cu = kwargs.get("cu_seq_lens_q")
    if cu is not None:
        return cu, int(kwargs.get("max_length_q") or int(cu.diff().max()))
    position_ids = kwargs.get("position_ids")
    if position_ids is None or position_ids.shape[0] != 1:
        return None
    starts = (position_ids[0] == 0).nonzero().flatten()
    if starts.numel() <= 1:
        return None
    end = torch.tensor([position_ids.shape[1]], device=starts.device)
    cu = torch.cat([starts, end]).to(torch.int32)
    return cu, int(cu.diff().max())


def _flash_varlen(query, key, value, cu, longest, scaling):
    kwargs, takes_grouped_heads = _KERNEL
    q = query[0].transpose(0, 1)  # [tokens, heads, head_dim]
    k = key[0].transpose(0, 1)
    v = value[0].transpose(0, 1)
    cu = cu.to(device=q.device, dtype=torch.int32)
    if q.shape[1] != k.shape[1] and not takes_grouped_heads:
        k, v = (t.repeat_interleave(q.shape[1] // t.shape[1], dim=1) for t in (k, v))
    out = varlen_attn(q, k, v, cu, cu, longest, longest, scale=scaling, **kwargs)
    return out.unsqueeze(0)  # [1, tokens, heads, head_dim]


def _sdpa_per_conversation(query, key, value, cu, scaling):
    """One causal SDPA per conversation: the plain-PyTorch statement of what varlen computes. K/V
    heads are read grouped (`enable_gqa`), not repeated: no copies of K and V, same forward bits."""
    if not (query.device.type == "cpu" and torch.is_autocast_enabled("cpu") and cpu_attention_in_fp32()):
        return _per_conversation(query, key, value, cu, scaling)
    with torch.autocast("cpu", enabled=False):
        out = _per_conversation(query.float(), key.float(), value.float(), cu, scaling)
    return out.to(torch.get_autocast_dtype("cpu"))  # what o_proj reads under the step's autocast


def _per_conversation(query, key, value, cu, scaling):
    bounds = cu.tolist()
    gqa = query.shape[1] != key.shape[1]
    pieces = [
        F.scaled_dot_product_attention(
            query[:, :, start:end], key[:, :, start:end], value[:, :, start:end], is_causal=True, scale=scaling,
            enable_gqa=gqa,
        )
        for start, end in zip(bounds[:-1], bounds[1:])
        if end > start
    ]
    return torch.cat(pieces, dim=2).transpose(1, 2)  # [1, tokens, heads, head_dim]


def _sdpa_block_causal(query, key, value, cu, scaling):
    """The same attention as one SDPA call with a [tokens, tokens] block-causal mask: no Python
    loop over conversations, so a compiled layer traces it whole (CPU only; the mask is quadratic)."""
    groups = query.shape[1] // key.shape[1]
    key, value = (t.repeat_interleave(groups, dim=1) for t in (key, value))
    positions = torch.arange(query.shape[2], device=query.device)
    conversation = torch.searchsorted(cu[1:].to(query.device), positions, right=True)
    mask = (conversation[:, None] == conversation[None, :]) & (positions[:, None] >= positions[None, :])
    out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=scaling)
    return out.transpose(1, 2)


def varlen_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    sliding_window: int | None = None,
    **kwargs,
):
    boundaries = None if attention_mask is not None else _boundaries(kwargs)
    if boundaries is None or sliding_window is not None or dropout:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    cu, longest = boundaries
    if varlen_kernel_available(query.device) and query.dtype in (torch.bfloat16, torch.float16):
        return _flash_varlen(query, key, value, cu, longest, scaling), None
    if torch.compiler.is_compiling():
        return _sdpa_block_causal(query, key, value, cu, scaling), None
    return _sdpa_per_conversation(query, key, value, cu, scaling), None


def varlen_mask(*args, attention_mask: torch.Tensor | None = None, **kwargs):
    """No mask when there is no padding (the boundaries travel as cu_seq_lens); SDPA's otherwise."""
    if attention_mask is None:
        return None
    return sdpa_mask(*args, attention_mask=attention_mask, **kwargs)


def register_varlen_attention() -> str:
    """Make "hearth_varlen" a valid `attn_implementation`; returns the name."""
    global _KERNEL
    if _KERNEL is None and varlen_kernel_available():
        kwargs = _causal_kwargs()
        _KERNEL = (kwargs, _kernel_takes_grouped_heads(kwargs))
    AttentionInterface.register(ATTENTION_NAME, varlen_attention_forward)
    AttentionMaskInterface.register(ATTENTION_NAME, varlen_mask)
    assert ALL_MASK_ATTENTION_FUNCTIONS[ATTENTION_NAME] is varlen_mask
    return ATTENTION_NAME
