"""Padding-free packing: whole conversations laid end to end in one row, up to a token budget.

A pack is one row of `input_ids` with `position_ids` that restart at 0 for every conversation and
`cu_seq_lens_*` marking where each conversation starts, so attention stays inside its own
conversation (FlashAttention varlen reads the boundaries; SDPA/eager build a block mask from the
restarting position ids). The first label of each conversation is -100: under the usual one-token
shift it would be predicted from the previous conversation's last token.

Packs are fixed once per data set (first-fit decreasing fills them to ~99%); the order of packs
is reshuffled every epoch, as TRL does for its own packing.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterator, Sequence

import torch

from tuner.masking import IGNORE_INDEX


def pack_by_budget(lengths: Sequence[int], budget: int) -> list[list[int]]:
    """Group item indices into packs of at most `budget` tokens (best-fit decreasing).

    An item longer than the budget gets a pack of its own: conversations are never split, since a
    split conversation would lose the context its second half was written in.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    packs: list[list[int]] = []
    # Open packs sorted by remaining room: (room, pack index); best fit = the smallest room that fits.
    rooms: list[tuple[int, int]] = []
    for index in order:
        length = lengths[index]
        slot = bisect.bisect_left(rooms, (length, -1))
        if slot < len(rooms):
            room, pack_index = rooms.pop(slot)
            packs[pack_index].append(index)
            room -= length
        else:
            packs.append([index])
            pack_index, room = len(packs) - 1, budget - length
        if room > 0:
            bisect.insort(rooms, (room, pack_index))
    return packs


class TokenBudgetBatchSampler:
    """Yields one pack (a list of dataset indices) per micro-step, packs reshuffled each epoch."""

    def __init__(self, lengths: Sequence[int], budget: int, *, shuffle: bool = True, seed: int = 0):
        self.budget = budget
        self.packs = pack_by_budget(lengths, budget)
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.packs)

    def __iter__(self) -> Iterator[list[int]]:
        order = list(range(len(self.packs)))
        if self.shuffle:
            random.Random(self.seed + self.epoch).shuffle(order)
        for pack_index in order:
            yield list(self.packs[pack_index])


class PackedCollator:
    """Turns a pack of pre-tokenized rows ({"input_ids", "labels"}) into one padding-free row.

    `pad_to_multiple_of` appends a filler segment of `pad_token_id` (its own sequence, all labels
    -100) so the row length is a multiple of it: fixed shapes for compiled graphs.

    `target_positions` adds `hearth_target_positions`: the positions whose next token is a target,
    found here on the CPU so the chunked loss gathers them without asking the GPU (a boolean mask
    on the GPU would stall the step until the forward pass is done).
    """

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None, target_positions: bool = False):
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of
        self.target_positions = target_positions

    def __call__(self, rows: list[dict]) -> dict:
        segments = [(list(row["input_ids"]), list(row.get("labels", row["input_ids"]))) for row in rows]
        total = sum(len(ids) for ids, _ in segments)
        if self.pad_to_multiple_of and total % self.pad_to_multiple_of:
            filler = self.pad_to_multiple_of - total % self.pad_to_multiple_of
            segments.append(([self.pad_token_id] * filler, [IGNORE_INDEX] * filler))
        input_ids, labels, position_ids, seq_lens = [], [], [], []
        for ids, row_labels in segments:
            input_ids.extend(ids)
            labels.append(IGNORE_INDEX)  # predicted from the previous conversation: never a target
            labels.extend(row_labels[1:])
            position_ids.extend(range(len(ids)))
            seq_lens.append(len(ids))
        cu_seq_lens = torch.tensor([0, *seq_lens], dtype=torch.int32).cumsum(0, dtype=torch.int32)
        longest = max(seq_lens)
        label_row = torch.tensor([labels], dtype=torch.long)
        batch = {
            "input_ids": torch.tensor([input_ids], dtype=torch.long),
            "labels": label_row,
            "position_ids": torch.tensor([position_ids], dtype=torch.long),
            "cu_seq_lens_q": cu_seq_lens,
            "cu_seq_lens_k": cu_seq_lens,
            "max_length_q": longest,
            "max_length_k": longest,
        }
        if self.target_positions:
            batch["hearth_target_positions"] = (label_row[0, 1:] != IGNORE_INDEX).nonzero().flatten()
        return batch
