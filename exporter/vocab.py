"""The tokenizer half of a GGUF file: which kind of tokenizer the model has, its tokens, the
special ids (with eos set to the token that ends an assistant turn), and the chat template."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import gguf

from exporter.bos_eos import tokenizer_additions
from exporter.chat_template import end_of_turn, load_chat_template, special_token_texts
from exporter.tokenizer_bpe import bpe_vocab, is_byte_level
from exporter.tokenizer_spm import is_sentencepiece, is_sentencepiece_json, spm_json_vocab, spm_vocab
from hearth.errors import UserError


@dataclass
class GGUFVocab:
    model: str  # tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece)
    pre: str  # tokenizer.ggml.pre
    tokens: list[str]
    types: list[int]
    special: gguf.SpecialVocab
    scores: list[float] | None = None
    add_space_prefix: bool | None = None
    chat_template: str | None = None
    end_of_turn: str | None = None  # the token text that ends an assistant turn, when there is a template
    notes: list[str] = field(default_factory=list)

    @property
    def eos_id(self) -> int | None:
        return self.special.special_token_ids.get("eos")

    def add_to(self, writer: gguf.GGUFWriter) -> None:
        writer.add_tokenizer_model(self.model)
        writer.add_tokenizer_pre(self.pre)
        writer.add_token_list(self.tokens)
        writer.add_token_types(self.types)
        if self.scores is not None:
            writer.add_token_scores(self.scores)
        if self.add_space_prefix is not None:
            writer.add_add_space_prefix(self.add_space_prefix)
        self.special.chat_template = self.chat_template  # the one transformers uses, read once
        self.special.add_to_gguf(writer, quiet=True)


def _load_bpe(model_dir: Path, n_vocab: int, pre_override: str | None) -> dict:
    tokens, types, pre = bpe_vocab(model_dir, n_vocab, pre_override)
    return dict(model="gpt2", pre=pre, tokens=tokens, types=types)


def _spm_loader(read: Callable[[Path, int], tuple]) -> Callable[..., dict]:
    def load(model_dir: Path, n_vocab: int, pre_override: str | None) -> dict:
        tokens, scores, types, add_space_prefix = read(model_dir, n_vocab)
        return dict(model="llama", pre=pre_override or "default", tokens=tokens, types=types, scores=scores,
                    add_space_prefix=add_space_prefix)
    return load


def _is_byte_level_bpe(model_dir: Path) -> bool:
    path = Path(model_dir) / "tokenizer.json"
    return path.is_file() and is_byte_level(json.loads(path.read_text(encoding="utf-8")))


# (what it is, does this directory have it, how to read it) — first match wins.
TOKENIZER_KINDS: tuple[tuple[str, Callable[[Path], bool], Callable[..., dict]], ...] = (
    ("byte-level BPE tokenizer.json", _is_byte_level_bpe, _load_bpe),
    ("SentencePiece tokenizer.model", is_sentencepiece, _spm_loader(spm_vocab)),
    # what transformers 5 saves for a SentencePiece tokenizer (a fine-tuned run's merged model)
    ("SentencePiece-style tokenizer.json", is_sentencepiece_json, _spm_loader(spm_json_vocab)),
)


def load_vocab(model_dir: Path, n_vocab: int, pre_override: str | None = None) -> GGUFVocab:
    model_dir = Path(model_dir)
    loader = next((load for _, present, load in TOKENIZER_KINDS if present(model_dir)), None)
    if loader is None:
        kinds = " or ".join(kind for kind, _, _ in TOKENIZER_KINDS)
        raise UserError(f"no tokenizer hearth can convert here; it needs a {kinds}", where=str(model_dir))
    fields = loader(model_dir, n_vocab, pre_override)
    logging.getLogger("gguf.vocab").setLevel(logging.ERROR)  # its notes are about files, not the user's problem
    special = gguf.SpecialVocab(model_dir, load_merges=fields["model"] == "gpt2", n_vocab=n_vocab)
    vocab = GGUFVocab(special=special, chat_template=load_chat_template(model_dir), **fields)
    _set_stop_token(vocab, model_dir)
    _set_additions(vocab, model_dir)
    return vocab


def _set_additions(vocab: GGUFVocab, model_dir: Path) -> None:
    """add_bos_token / add_eos_token as the HF tokenizer really adds them, always written: without them
    llama.cpp guesses per vocabulary type (BOS for every SentencePiece model, say). A BOS the tokenizer
    adds becomes the GGUF's bos id, so the runtime prepends that very token."""
    additions = tokenizer_additions(model_dir)
    ids = {text: i for i, text in enumerate(vocab.tokens)}
    special = vocab.special
    special.add_special_token.update(bos=additions.add_bos, eos=additions.add_eos)
    if additions.bos is not None:
        if additions.bos not in ids:
            raise UserError(f"the tokenizer adds '{additions.bos}' before every text, but it is not in the vocabulary",
                            where=f"{model_dir}/{additions.source}")
        special.special_token_ids["bos"] = ids[additions.bos]
    if additions.eos is not None and vocab.eos_id is not None and ids.get(additions.eos) != vocab.eos_id:
        vocab.notes.append(f"the tokenizer appends '{additions.eos}' to every text, but llama.cpp appends the GGUF eos "
                           f"'{vocab.tokens[vocab.eos_id]}' (the end-of-turn token) instead")


def _set_stop_token(vocab: GGUFVocab, model_dir: Path) -> None:
    """eos := the end-of-turn token of the chat template (typed CONTROL); without a template,
    generation_config.json's eos (what `generate` stops on) over config.json's."""
    specials = {text: i for i, (text, kind) in enumerate(zip(vocab.tokens, vocab.types))
                if kind in (gguf.TokenType.CONTROL, gguf.TokenType.USER_DEFINED)}
    found = end_of_turn(vocab.chat_template, specials, special_token_texts(model_dir)) if vocab.chat_template else None
    if found:
        vocab.end_of_turn, eos = found
    else:
        eos = _generation_eos(model_dir)
    if eos is None:
        return
    if vocab.eos_id != eos:
        vocab.notes.append(f"eos set to '{vocab.tokens[eos]}' (id {eos}), the token that ends a turn "
                           f"(the config said id {vocab.eos_id})")
    vocab.special.special_token_ids["eos"] = eos
    vocab.types[eos] = gguf.TokenType.CONTROL


def _generation_eos(model_dir: Path) -> int | None:
    path = Path(model_dir) / "generation_config.json"
    if not path.is_file():
        return None
    eos = json.loads(path.read_text(encoding="utf-8")).get("eos_token_id")
    return eos[0] if isinstance(eos, list) and eos else eos if isinstance(eos, int) else None
