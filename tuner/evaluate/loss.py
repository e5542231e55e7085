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

# The held-out text scored, in tokens of whole conversations (at least one): a forward pass over 512 tokens of a
# 135M model costs a 2-core CPU seconds, so an eval reads a sample of the held-out data, the same on every side.
LOSS_MAX_TOKENS = 2048


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


def encode_heldout(tokenizer, conversations: list[list[dict]], max_length: int,
                   max_tokens: int = LOSS_MAX_TOKENS) -> list[Encoded]:
    """The conversations as training saw them, in order, until `max_tokens`; those with nothing to score are left out."""
    encoded, total = [], 0
    for messages in conversations:
        item = encode_conversation(tokenizer, messages, max_length)
        if not item.assistant_tokens:
            continue
        if encoded and total + len(item.input_ids) > max_tokens:
            break
        encoded.append(item)
        total += len(item.input_ids)
    return encoded


def scored_rows(encoded: Encoded) -> list[int]:
    """The positions whose logits predict a labelled token (the one before each)."""
    return [i - 1 for i in range(1, len(encoded.labels)) if encoded.labels[i] != IGNORE_INDEX]


def masked_nll(rows_logits: np.ndarray, encoded: Encoded) -> tuple[float, int]:
    """(summed NLL, count) of the labelled tokens, from the logits at `scored_rows(encoded)`."""
    rows = scored_rows(encoded)
    if not rows:
        return 0.0, 0
    logits = rows_logits.astype(np.float64)
    logits -= logits.max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    targets = [encoded.input_ids[r + 1] for r in rows]
    return -float(log_probs[np.arange(len(rows)), targets].sum()), len(rows)


def mean_loss(logits_of, encoded: list[Encoded]) -> Loss:
    """`logits_of(ids, rows) -> (len(rows), vocab)` over each conversation, reduced to one Loss."""
    total, count = 0.0, 0
    for item in encoded:
        nll, n = masked_nll(logits_of(item.input_ids, scored_rows(item)), item)
        total, count = total + nll, count + n
    return Loss(total / max(count, 1), count, len(encoded))


def hf_logits(model):
    """`logits_of` for a Hugging Face causal LM (in whatever adapter state the caller has put it); the head runs
    only at the scored positions (`logits_to_keep`), a fifth of a small model's forward pass saved."""
    import torch

    device = next(model.parameters()).device

    def logits_of(ids: list[int], rows: list[int]) -> np.ndarray:
        with torch.no_grad():
            keep = torch.tensor(rows, device=device)
            return model(torch.tensor([ids], device=device), logits_to_keep=keep).logits[0].float().cpu().numpy()

    return logits_of
