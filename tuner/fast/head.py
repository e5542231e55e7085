"""A second way through a causal LM's forward: backbone, then the chunked loss on target positions.

`model(..., labels=..., hearth_loss=True)` returns the summed cross-entropy, the number of target
tokens and the top-1 hits, without ever building the logits. The call still goes through
`model(...)` (and so through PEFT and DDP wrappers, whose gradient hooks depend on it); without
`hearth_loss` the forward is the model's own, so generation and evaluation are untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MethodType

import torch
from transformers.utils import ModelOutput

from tuner.fast.chunked_loss import chunked_cross_entropy
from tuner.fast.cpu_bf16 import frozen_bf16_weight
from tuner.masking import IGNORE_INDEX


@dataclass
class ChunkedLossOutput(ModelOutput):
    loss_sum: torch.Tensor | None = None
    num_tokens: torch.Tensor | None = None
    num_correct: torch.Tensor | None = None


def install_chunked_head(causal_lm: torch.nn.Module, chunk_tokens: int) -> None:
    """Teach `causal_lm.forward` the `hearth_loss=True` switch (idempotent; updates the chunk size)."""
    causal_lm._hearth_loss_chunk_tokens = chunk_tokens
    if getattr(causal_lm, "_hearth_head_installed", False):
        return
    original_forward = causal_lm.forward

    def forward(self, *args, hearth_loss: bool = False, labels=None, **kwargs):
        if not hearth_loss:
            if labels is not None:
                kwargs["labels"] = labels
            return original_forward(*args, **kwargs)
        kwargs = {key: value for key, value in kwargs.items() if value is not None}
        kwargs.pop("num_items_in_batch", None)
        positions = kwargs.pop("hearth_target_positions", None)
        kwargs["use_cache"] = False
        backbone = getattr(self, self.base_model_prefix)
        hidden = backbone(*args, **kwargs).last_hidden_state[:, :-1]
        targets = labels[:, 1:].to(hidden.device)
        if positions is not None:  # one packed row, target positions found by the collator
            positions = positions.to(hidden.device)
            hidden, targets = hidden[0].index_select(0, positions), targets[0].index_select(0, positions)
            num_tokens = torch.tensor(positions.numel(), device=hidden.device)
        else:
            keep = targets != IGNORE_INDEX
            hidden, targets, num_tokens = hidden[keep], targets[keep], keep.sum()
        head = self.get_output_embeddings()
        device_type = hidden.device.type
        # The head runs in the step's half precision even where QLoRA preparation left it in fp32.
        compute_dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else None
        weight = head.weight
        if compute_dtype == torch.bfloat16 and device_type == "cpu" and not weight.requires_grad:
            weight = frozen_bf16_weight(head)  # the CPU's bf16 step: the frozen head cast once, not every step
        loss_sum, num_correct = chunked_cross_entropy(
            hidden,
            weight,
            targets,
            bias=head.bias,
            chunk_tokens=self._hearth_loss_chunk_tokens,
            compute_dtype=compute_dtype,
        )
        return ChunkedLossOutput(loss_sum=loss_sum, num_tokens=num_tokens, num_correct=num_correct)

    causal_lm.forward = MethodType(forward, causal_lm)
    causal_lm._hearth_head_installed = True
