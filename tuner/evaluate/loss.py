"""Held-out loss on the tokens training learns from: each held-out conversation tokenized and masked exactly as
training does it (tuner/masking.py — assistant replies and their end-of-turn token), and the mean negative
log-likelihood of those tokens, for any side that yields logits (the Hugging Face models, a GGUF through
llama.cpp). The same ids and the same mask on every side, so the numbers compare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tuner.masking import IGNORE_INDEX, Encoded, encode_conversation

LOSS_MAX_CONVERSATIONS = 48  # enough for a stable mean; a 135M model on 2 cores reads them in seconds


@dataclass(frozen=True)
class Loss:
    loss: float  # mean NLL per scored token, in nats
    tokens: int  # tokens scored (assistant tokens of the held-out text)
    conversations: int

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss)

    def to_json(self) -> dict:
        return {"loss": round(self.loss, 5), "perplexity": round(self.perplexity, 4), "tokens": self.tokens,
                "conversations": self.conversations}


def encode_heldout(tokenizer, conversations: list[list[dict]], max_length: int) -> list[Encoded]:
    """The conversations as training saw them; those with nothing to score are left out."""
    encoded = [encode_conversation(tokenizer, messages, max_length) for messages in conversations[:LOSS_MAX_CONVERSATIONS]]
    return [e for e in encoded if e.assistant_tokens]


def masked_nll(logits: np.ndarray, encoded: Encoded) -> tuple[float, int]:
    """(summed NLL, count) of the labelled tokens, each predicted from the position before it."""
    positions = [i for i in range(1, len(encoded.labels)) if encoded.labels[i] != IGNORE_INDEX]
    if not positions:
        return 0.0, 0
    rows = logits[[p - 1 for p in positions]].astype(np.float64)
    rows -= rows.max(-1, keepdims=True)
    log_probs = rows - np.log(np.exp(rows).sum(-1, keepdims=True))
    targets = [encoded.input_ids[p] for p in positions]
    return -float(log_probs[np.arange(len(positions)), targets].sum()), len(positions)


def mean_loss(logits_of, encoded: list[Encoded]) -> Loss:
    """`logits_of(ids) -> (positions, vocab)` over each conversation, reduced to one Loss."""
    total, count = 0.0, 0
    for item in encoded:
        nll, n = masked_nll(logits_of(item.input_ids), item)
        total, count = total + nll, count + n
    return Loss(total / max(count, 1), count, len(encoded))


def hf_logits(model):
    """`logits_of` for a Hugging Face causal LM (in whatever adapter state the caller has put it)."""
    import torch

    device = next(model.parameters()).device

    def logits_of(ids: list[int]) -> np.ndarray:
        with torch.no_grad():
            return model(torch.tensor([ids], device=device)).logits[0].float().cpu().numpy()

    return logits_of
