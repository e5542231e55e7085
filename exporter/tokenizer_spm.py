"""A SentencePiece vocabulary (Llama 2, TinyLlama, Mistral v0.1, Gemma, Phi-3) as GGUF vocabulary: pieces,
scores and types, then any tokens added on top of it, padded to the model's vocab size.

From `tokenizer.model` when the directory has one; otherwise from the SentencePiece-style
`tokenizer.json` (BPE with byte fallback over "▁"-joined text) that transformers 5 saves alone —
a fine-tuned run's merged model has only that. Its merge order becomes the scores llama.cpp merges
by (an earlier merge scores higher), so both sides merge in the same order; tokenizer parity in
`verify` shows it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import gguf

from exporter.tokenizer_bpe import added_token_type
from hearth.errors import UserError

# SentencePiece piece kinds, asked in this order; anything else is a normal piece.
PIECE_TYPES = (
    ("is_unknown", gguf.TokenType.UNKNOWN),
    ("is_control", gguf.TokenType.CONTROL),
    ("is_unused", gguf.TokenType.UNUSED),
    ("is_byte", gguf.TokenType.BYTE),
)
PAD_SCORE = -1000.0


def is_sentencepiece(model_dir: Path) -> bool:
    path = Path(model_dir) / "tokenizer.model"
    if not path.is_file():
        return False
    try:
        _processor(path)
    except (RuntimeError, OSError):
        return False  # e.g. Llama 3's tiktoken file under the same name
    return True


def _processor(path: Path):
    from sentencepiece import SentencePieceProcessor

    return SentencePieceProcessor(model_file=str(path))


def _piece_type(sp, i: int) -> gguf.TokenType:
    return next((kind for method, kind in PIECE_TYPES if getattr(sp, method)(i)), gguf.TokenType.NORMAL)


def added_tokens(model_dir: Path) -> list[dict]:
    """Tokens added after the SentencePiece vocabulary (tokenizer.json, else added_tokens.json)."""
    model_dir = Path(model_dir)
    if (model_dir / "tokenizer.json").is_file():
        return json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8")).get("added_tokens", [])
    if (model_dir / "added_tokens.json").is_file():
        table = json.loads((model_dir / "added_tokens.json").read_text(encoding="utf-8"))
        return [{"content": text, "id": i, "special": True} for text, i in table.items()]
    return []


def spm_vocab(model_dir: Path, n_vocab: int):
    """(tokens, scores, token types, add_space_prefix) for a SentencePiece model."""
    sp = _processor(Path(model_dir) / "tokenizer.model")
    tokens = [sp.id_to_piece(i) for i in range(sp.vocab_size())]
    scores = [sp.get_score(i) for i in range(sp.vocab_size())]
    types = [_piece_type(sp, i) for i in range(sp.vocab_size())]
    # SentencePiece's dummy prefix: a leading "▁" added to the text before encoding.
    add_space_prefix = sp.encode("a", out_type=str)[:1] != ["a"]
    return _with_added_tokens(model_dir, n_vocab, tokens, scores, types) + (add_space_prefix,)


def _with_added_tokens(model_dir: Path, n_vocab: int, tokens: list, scores: list, types: list) -> tuple:
    """The pieces with the tokens added on top of them, padded to the model's vocab size."""
    for token in added_tokens(model_dir):
        i = token["id"]
        if i < len(tokens):
            if token.get("special"):
                types[i] = gguf.TokenType.CONTROL  # e.g. <s>, </s> listed again as added tokens
            elif types[i] == gguf.TokenType.NORMAL:
                types[i] = gguf.TokenType.USER_DEFINED  # a user-defined piece (Gemma's <start_of_turn>): kept whole
            continue
        while len(tokens) < i:
            _pad(tokens, scores, types)
        tokens.append(token["content"])
        scores.append(0.0)
        types.append(added_token_type(token))
    if len(tokens) > n_vocab:
        raise UserError(f"the tokenizer has {len(tokens)} tokens but the model's vocab_size is {n_vocab}; "
                        "resize the model's embeddings to the tokenizer", where=str(model_dir))
    while len(tokens) < n_vocab:
        _pad(tokens, scores, types)
    return tokens, scores, types


def _pad(tokens: list, scores: list, types: list) -> None:
    tokens.append(f"[PAD{len(tokens)}]")
    scores.append(PAD_SCORE)
    types.append(gguf.TokenType.UNUSED)


_BYTE_PIECE = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")


def _tokenizer_json(model_dir: Path) -> dict | None:
    path = Path(model_dir) / "tokenizer.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def is_sentencepiece_json(model_dir: Path) -> bool:
    """A tokenizer.json converted from SentencePiece: BPE with byte fallback, spaces as "▁"."""
    tokenizer = _tokenizer_json(model_dir)
    if not tokenizer:
        return False
    model = tokenizer.get("model", {})
    pipeline = json.dumps([tokenizer.get("normalizer"), tokenizer.get("pre_tokenizer")], ensure_ascii=False)
    return model.get("type") == "BPE" and bool(model.get("byte_fallback")) and "\u2581" in pipeline


def _adds_space_prefix(tokenizer: dict) -> bool:
    """Does the pipeline put "▁" before the text (Llama 2's dummy prefix; Gemma has none)?"""
    nodes = [tokenizer.get("normalizer") or {}, tokenizer.get("pre_tokenizer") or {}]
    flat = [n for node in nodes for n in (node.get("normalizers") or node.get("pretokenizers") or [node])]
    return any(n.get("type") == "Prepend" and n.get("prepend") == "\u2581" or
               n.get("type") == "Metaspace" and n.get("prepend_scheme", "always") != "never" for n in flat)


def spm_json_vocab(model_dir: Path, n_vocab: int):
    """(tokens, scores, token types, add_space_prefix) from a SentencePiece-style tokenizer.json."""
    tokenizer = _tokenizer_json(model_dir)
    model = tokenizer["model"]
    by_id = {i: text for text, i in model["vocab"].items()}
    merged_at: dict[str, int] = {}
    for rank, merge in enumerate(model.get("merges", [])):
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        merged_at.setdefault(left + right, rank)
    count = max(by_id) + 1 if by_id else 0
    tokens = [by_id.get(i, f"[PAD{i}]") for i in range(count)]
    # Pieces no merge produces (single characters, bytes, markers) start out whole: their score is unused.
    scores = [-float(merged_at[t]) if t in merged_at else -float(len(merged_at) + i) for i, t in enumerate(tokens)]
    types = [gguf.TokenType.BYTE if _BYTE_PIECE.match(t) else gguf.TokenType.UNKNOWN if t == model.get("unk_token")
             else gguf.TokenType.NORMAL if i in by_id else gguf.TokenType.UNUSED for i, t in enumerate(tokens)]
    return _with_added_tokens(model_dir, n_vocab, tokens, scores, types) + (_adds_space_prefix(tokenizer),)
