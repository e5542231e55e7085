"""How strongly a model prefers the chosen replies: on held-out preference rows (the rendered rows a DPO/KTO run
kept aside, `heldout-preferences.jsonl`), the log-probability a model gives each reply after its prompt.

- pairs: margin = mean over pairs of log p(chosen) − log p(rejected); accuracy = share of pairs where chosen wins;
- KTO rows: margin = mean log p per token of desirable replies − that of undesirable ones (no pairing to win).

This is what DPO moves, measured outside training: `hearth eval` shows it for the model the run started from and
for the tuned one, and a test asserts that a DPO run raises it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Margin:
    margin: float
    accuracy: float | None  # pairs only
    rows: int

    def to_json(self) -> dict:
        return asdict(self)


def read_rows(path: Path) -> list[dict]:
    """A run's held-out preference rows; none for a run that has no such file (an SFT run)."""
    from hearth.jsonl import read_rows as read_jsonl

    return [line.row for line in read_jsonl(path, what="held-out preference file")] if path.is_file() else []


def reply_logprob(model, tokenizer, prompt: str, reply: str) -> tuple[float, int]:
    """(sum of log p over the reply's tokens, their count), tokenized as TRL does: prompt, then prompt + reply."""
    import torch

    prompt_ids = tokenizer(prompt).input_ids
    ids = tokenizer(prompt + reply).input_ids
    start = next((i for i, (a, b) in enumerate(zip(prompt_ids, ids)) if a != b), min(len(prompt_ids), len(ids)))
    start = max(start, 1)
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids], device=device)).logits[0, :-1].float()
    logp = torch.log_softmax(logits, dim=-1)
    targets = torch.tensor(ids[1:], device=device)
    token_logp = logp.gather(1, targets[:, None])[:, 0][start - 1:]
    return float(token_logp.sum()), int(token_logp.numel())


def _pairs_margin(model, tokenizer, rows: list[dict]) -> Margin:
    gaps = [reply_logprob(model, tokenizer, r["prompt"], r["chosen"])[0]
            - reply_logprob(model, tokenizer, r["prompt"], r["rejected"])[0] for r in rows]
    return Margin(round(sum(gaps) / len(gaps), 4), round(sum(g > 0 for g in gaps) / len(gaps), 4), len(rows))


def _unpaired_margin(model, tokenizer, rows: list[dict]) -> Margin:
    per_token = {True: [], False: []}
    for r in rows:
        total, count = reply_logprob(model, tokenizer, r["prompt"], r["completion"])
        per_token[bool(r["label"])].append(total / max(count, 1))
    if not per_token[True] or not per_token[False]:
        return Margin(0.0, None, len(rows))
    mean = {label: sum(v) / len(v) for label, v in per_token.items()}
    return Margin(round(mean[True] - mean[False], 4), None, len(rows))


def preference_margin(model, tokenizer, rows: list[dict]) -> Margin | None:
    """The model's margin on `rows` (all pairs or all KTO rows, as one run writes them); None without rows."""
    if not rows:
        return None
    return (_pairs_margin if "chosen" in rows[0] else _unpaired_margin)(model, tokenizer, rows)
