"""Which special tokens the Hugging Face tokenizer puts around every text: what `tokenizer("x")`
adds, read from the tokenizer's files the way transformers 5 decides it, so the GGUF's
`add_bos_token` / `add_eos_token` make every runtime prepend (and append) what training saw.

transformers 5 (`TokenizersBackend`): when tokenizer_config.json names `add_bos_token` or
`add_eos_token`, it rebuilds the post-processor from those two flags (a missing one is False);
otherwise tokenizer.json's post-processor decides; a tokenizer without one adds nothing. A
SentencePiece model without tokenizer.json is converted with Llama's defaults (BOS, no EOS).
`verify` checks the result against the real tokenizer (`hf_additions`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from exporter.chat_template import token_text

FLAG_KEYS = ("add_bos_token", "add_eos_token")


@dataclass(frozen=True)
class Additions:
    """The tokens added before and after a text (None: that side adds nothing)."""

    bos: str | None
    eos: str | None
    source: str  # which file decided, for messages

    @property
    def add_bos(self) -> bool:
        return self.bos is not None

    @property
    def add_eos(self) -> bool:
        return self.eos is not None


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _from_flags(config: dict, source: str) -> Additions:
    bos = token_text(config.get("bos_token")) if config.get("add_bos_token") else None
    eos = token_text(config.get("eos_token")) if config.get("add_eos_token") else None
    return Additions(bos, eos, source)


def _template_ends(items: list) -> tuple[str | None, str | None]:
    """A TemplateProcessing `single` template → (special token id before $A, after $A)."""
    ids = [item.get("SpecialToken", {}).get("id") for item in items]
    sequence = next((i for i, item in enumerate(items) if "Sequence" in item), None)
    if sequence is None:
        return None, None
    before = [i for i in ids[:sequence] if i]
    after = [i for i in ids[sequence + 1:] if i]
    return (before[0] if before else None), (after[-1] if after else None)


# post-processor type → (token before, token after); Sequence nodes are walked.
POST_PROCESSORS = {
    "TemplateProcessing": lambda node: _template_ends(node.get("single", [])),
    "BertProcessing": lambda node: (node["cls"][0], node["sep"][0]),
    "RobertaProcessing": lambda node: (node["cls"][0], node["sep"][0]),
    "ByteLevel": lambda node: (None, None),
}


def _post_processor_ends(node: dict | None) -> tuple[str | None, str | None]:
    if not node:
        return None, None
    if node.get("type") == "Sequence":
        ends = [_post_processor_ends(child) for child in node.get("processors", [])]
        return (next((b for b, _ in ends if b), None), next((e for _, e in reversed(ends) if e), None))
    read = POST_PROCESSORS.get(node.get("type"))
    return read(node) if read else (None, None)


def tokenizer_additions(model_dir: Path) -> Additions:
    model_dir = Path(model_dir)
    config = _json(model_dir / "tokenizer_config.json")
    if any(key in config for key in FLAG_KEYS):
        return _from_flags(config, "tokenizer_config.json")
    tokenizer_json = model_dir / "tokenizer.json"
    if tokenizer_json.is_file():
        bos, eos = _post_processor_ends(_json(tokenizer_json).get("post_processor"))
        return Additions(bos, eos, "tokenizer.json post_processor")
    return _from_flags({**config, "add_bos_token": True}, "SentencePiece defaults")


def hf_additions(tokenizer) -> tuple[list[int], list[int]]:
    """What a loaded HF tokenizer really adds to a text: (ids before it, ids after it)."""
    probe = "x"
    plain = list(tokenizer(probe, add_special_tokens=False)["input_ids"])
    full = list(tokenizer(probe, add_special_tokens=True)["input_ids"])
    start = next((i for i in range(len(full) - len(plain) + 1) if full[i:i + len(plain)] == plain), 0)
    return full[:start], full[start + len(plain):]
