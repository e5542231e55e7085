"""A SentencePiece `tokenizer.model` (Llama 2, TinyLlama, Mistral v0.1, Gemma, Phi-3) as GGUF vocabulary: pieces,
scores and types, then any tokens added on top of it, padded to the model's vocab size."""

from __future__ import annotations

import json
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
    # SentencePiece's dummy prefix: a leading "▁" added to the text before encoding.
    add_space_prefix = sp.encode("a", out_type=str)[:1] != ["a"]
    return tokens, scores, types, add_space_prefix


def _pad(tokens: list, scores: list, types: list) -> None:
    tokens.append(f"[PAD{len(tokens)}]")
    scores.append(PAD_SCORE)
    types.append(gguf.TokenType.UNUSED)
