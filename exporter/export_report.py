"""What an export found, as `gguf/export.json` holds it: one `FileReport` per GGUF written (its fidelity checks,
which alone decide `passed`, and the trained model's behaviour on the stop prompt) inside an `ExportReport` (the
quantizer's numbers, the LoRA GGUF's check, the `ollama` command, the warnings once each, the time taken).

Each check is the dict exporter/verify.py measured (`specials`, `tokenizer`, `logits` or `perplexity`, `stop`), kept
as it is. `to_json()` writes the file key for key in the order it has always had, leaving out the checks that do not
apply to a file; `from_json()` reads it back, from disk or from the export child's `done` event.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar

# Checks that decide a file's `passed` when it has them (perplexity is a number shown, never a verdict).
FIDELITY_CHECKS = ("specials", "tokenizer", "logits", "stop")


def _without_none(obj, keys: tuple[str, ...]) -> dict:
    return {key: getattr(obj, key) for key in keys if getattr(obj, key) is not None}


def _from_json(cls, data: dict):
    return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass
class FileReport:
    """One GGUF file's checks. A LoRA GGUF's row (tui/widgets/verify_table.py) carries only `logits`."""

    file: str  # the file's name in gguf/
    type: str  # "f16", "q8_0", …, or "lora"
    passed: bool = False
    specials: dict | None = None  # add_bos/add_eos against the HF tokenizer's
    tokenizer: dict | None = None  # ids on the probe texts
    logits: dict | None = None  # argmax and |Δ| (16/32-bit files)
    perplexity: dict | None = None  # the increase over the reference (quantized files)
    stop: dict | None = None  # the file stops where the trained model does
    behaviour: list[dict] = field(default_factory=list)  # the trained model's own warnings, with advice

    JSON_KEYS: ClassVar[tuple[str, ...]] = ("file", "type", "specials", "tokenizer", "logits", "perplexity", "stop", "behaviour", "passed")

    def checked(self) -> bool:
        """Every fidelity check the file has passed."""
        return all(getattr(self, name)["passed"] for name in FIDELITY_CHECKS if getattr(self, name) is not None)

    def to_json(self) -> dict:
        return _without_none(self, self.JSON_KEYS)

    @classmethod
    def from_json(cls, data: dict) -> FileReport:
        return _from_json(cls, data)


@dataclass
class ExportReport:
    run: str
    created: str  # UTC, ISO 8601 to the second
    files: list[FileReport] = field(default_factory=list)  # f16 first, then each quantization
    quantize: list[dict] = field(default_factory=list)  # exporter.quantize.QuantizeSummary.as_dict() each
    lora: dict | None = None  # the LoRA GGUF: its file (`path`), the base GGUF it applies to, and its parity
    ollama: str = ""  # `ollama create … && ollama run …`
    passed: bool = False  # every file's fidelity, and the LoRA's
    warnings: list[dict] = field(default_factory=list)  # the files' behaviour warnings, once each
    seconds: float = 0.0

    JSON_KEYS: ClassVar[tuple[str, ...]] = ("run", "created", "files", "quantize", "lora", "ollama", "passed", "warnings", "seconds")

    def to_json(self) -> dict:
        return _without_none(self, self.JSON_KEYS) | {"files": [f.to_json() for f in self.files]}

    @classmethod
    def from_json(cls, data: dict) -> ExportReport:
        report = _from_json(cls, data)
        report.files = [FileReport.from_json(f) for f in data.get("files", [])]
        return report
