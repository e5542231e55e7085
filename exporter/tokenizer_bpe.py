"""A byte-level BPE `tokenizer.json` (Qwen, Llama 3, SmolLM, GPT-2 style) as GGUF vocabulary: the token
list padded to the model's vocab size, token types, and the pre-tokenizer name.

The pre-tokenizer is named from the tokenizer's own split regex (a table), never from llama.cpp's
hash of a sample tokenization, which refuses every tokenizer it has not seen — tests' included.
Whether the name was right is then shown by tokenizer parity in `verify`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import gguf

from hearth.errors import UserError

QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# ByteLevel(use_regex=true) splits with GPT-2's built-in regex.
GPT2_BYTELEVEL = "<ByteLevel regex>"
# Digits(individual_digits=true) isolates every digit: SmolLM, SmolLM2, StarCoder2 split so before ByteLevel.
DIGITS_ONE_BY_ONE = r"\p{N}"
DIGIT_RUNS = r"\p{N}+"

# The tokenizer's split pattern(s) → the pre-tokenizer name llama.cpp knows.
# `qwen2` also covers DeepSeek-R1-Distill-Qwen (llama.cpp's `deepseek-r1-qwen` is the same splitter,
# but older runtimes reject that name).
PRE_TOKENIZERS: dict[tuple[str, ...], str] = {
    (QWEN2_SPLIT,): "qwen2",
    (LLAMA3_SPLIT,): "llama-bpe",
    (GPT2_BYTELEVEL,): "gpt-2",
    # llama.cpp's `smollm` (the same splitter as its `starcoder`): digits one by one, then GPT-2's regex
    (DIGITS_ONE_BY_ONE, GPT2_BYTELEVEL): "smollm",
}

# Added tokens that look like control markers even when not flagged special: <|im_end|>, <｜end▁of▁sentence｜>
_CONTROL_LOOK = re.compile(r"^<[|｜].*[|｜]>$")


def is_byte_level(tokenizer_json: dict) -> bool:
    return '"ByteLevel"' in json.dumps([tokenizer_json.get("pre_tokenizer"), tokenizer_json.get("decoder")])


def split_patterns(node) -> tuple[str, ...]:
    """Every split regex in a pre_tokenizer tree, in order."""
    if not isinstance(node, dict):
        return ()
    if node.get("type") == "Sequence":
        return tuple(p for child in node.get("pretokenizers", []) for p in split_patterns(child))
    if node.get("type") == "Split":
        pattern = node.get("pattern", {})
        return (pattern.get("Regex") or re.escape(pattern.get("String", "")),)
    if node.get("type") == "ByteLevel" and node.get("use_regex", True):
        return (GPT2_BYTELEVEL,)
    if node.get("type") == "Digits":
        return (DIGITS_ONE_BY_ONE if node.get("individual_digits") else DIGIT_RUNS,)
    return ()


def pre_tokenizer_name(tokenizer_json: dict, where: str) -> str:
    patterns = split_patterns(tokenizer_json.get("pre_tokenizer"))
    name = PRE_TOKENIZERS.get(patterns)
    if name is None:
        known = ", ".join(sorted(set(PRE_TOKENIZERS.values())))
        raise UserError(f"the tokenizer's split pattern {patterns!r} is not one hearth can name for llama.cpp "
                        f"(known: {known}); pass --pre-tokenizer NAME if you know it, and check with `hearth verify`",
                        where=where)
    return name


def added_token_type(token: dict) -> gguf.TokenType:
    if token.get("special") or _CONTROL_LOOK.match(token["content"]):
        return gguf.TokenType.CONTROL
    return gguf.TokenType.USER_DEFINED


def bpe_vocab(model_dir: Path, n_vocab: int, pre_override: str | None = None):
    """(tokens, token types, pre-tokenizer name) for a byte-level BPE tokenizer.json."""
    path = Path(model_dir) / "tokenizer.json"
    tokenizer = json.loads(path.read_text(encoding="utf-8"))
    model = tokenizer.get("model", {})
    if model.get("type") != "BPE":
        raise UserError(f"tokenizer model '{model.get('type')}' is not BPE", where=str(path))
    by_id: dict[int, tuple[str, gguf.TokenType]] = {i: (t, gguf.TokenType.NORMAL) for t, i in model["vocab"].items()}
    for token in tokenizer.get("added_tokens", []):
        by_id[token["id"]] = (token["content"], added_token_type(token))
    if max(by_id) >= n_vocab:
        raise UserError(f"the tokenizer has token id {max(by_id)} but the model's vocab_size is {n_vocab}; "
                        "resize the model's embeddings to the tokenizer", where=str(path))
    tokens, types = [], []
    for i in range(n_vocab):
        text, kind = by_id.get(i, (f"[PAD{i}]", gguf.TokenType.UNUSED))
        tokens.append(text)
        types.append(kind)
    return tokens, types, pre_override or pre_tokenizer_name(tokenizer, str(path))
