"""What a run's data came to, as `data-report.json` holds it: the files and their formats, the rows kept and the rows
rejected (file:line and why), the train/eval split, the max length, the end-of-turn token and the replies' language.
An SFT run adds the token lengths under the base's tokenizer and what max length cut (`DataReport`, which
`hearth data check` also shows); a DPO/KTO run adds its method and its pairs and rated replies (`PreferenceReport`).

`to_json()` is the file, key for key in the order it has always had: `hearth data check --report`, the tests and
users read it, and hearth.language.run_language reads its `language`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import ClassVar

from tuner.data import Rejected


def _percentile(sorted_values: list[int], q: float) -> int:
    if not sorted_values:
        return 0
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass
class LengthStats:
    """Tokens per kept conversation (a cut one counts as max length)."""

    p50: int
    p90: int
    p99: int
    min: int
    max: int
    mean: float

    @classmethod
    def of(cls, lengths: list[int]) -> LengthStats:
        ordered = sorted(lengths)
        if not ordered:
            return cls(0, 0, 0, 0, 0, 0)
        return cls(*(_percentile(ordered, q) for q in (50, 90, 99)), min=ordered[0], max=ordered[-1],
                   mean=round(sum(ordered) / len(ordered), 1))


@dataclass
class RowsReport:
    """What every data report says; a subclass names its keys' order in the file (JSON_KEYS)."""

    files: dict[str, str]  # file -> format name
    rows_kept: int
    rejected: list[Rejected]
    train_rows: int
    eval_rows: int
    max_length: int
    end_of_turn_token: str
    language: str  # "zh" or "en": of the replies learnt

    JSON_KEYS: ClassVar[tuple[str, ...]] = ()

    @property
    def rows_rejected(self) -> int:
        return len(self.rejected)

    def to_json(self) -> dict:
        values = asdict(self) | {"rows_rejected": self.rows_rejected}
        return {key: values[key] for key in self.JSON_KEYS}


@dataclass
class DataReport(RowsReport):
    """An SFT run's data (tuner.prepare), and what `hearth data check` and the train screen's Check data show."""

    truncated_rows: int  # conversations cut at max length
    token_length: LengthStats
    assistant_tokens: int  # tokens that carry the loss

    JSON_KEYS: ClassVar[tuple[str, ...]] = (
        "files", "rows_kept", "rows_rejected", "rejected", "train_rows", "eval_rows", "max_length", "truncated_rows",
        "token_length", "assistant_tokens", "end_of_turn_token", "language")


@dataclass
class PreferenceReport(RowsReport):
    """A DPO/KTO run's data (tuner.preference.rows); its train/eval rows are the trainer's (a KTO pair gives two)."""

    method: str
    pairs: int  # kept rows with a chosen and a rejected reply
    desirable: int
    undesirable: int

    JSON_KEYS: ClassVar[tuple[str, ...]] = (
        "method", "files", "rows_kept", "rows_rejected", "rejected", "train_rows", "eval_rows", "pairs", "desirable",
        "undesirable", "max_length", "end_of_turn_token", "language")
