"""The embedded offline base model: a small Qwen2-architecture model with its own byte-level BPE
tokenizer, built from the texts bundled with hearth in seconds, with no network.

It is shaped like the real thing (Qwen's split regex, `<|im_start|>`/`<|im_end|>`/`<|endoftext|>`,
a ChatML template, eos `<|im_end|>`, tied embeddings, a vocabulary padded past the tokenizer like
Qwen's) so every stage downstream — masking, training, merging, GGUF export, chat — runs on it
exactly as on Qwen2.5. A short pretraining pass on the same texts gives it the corpus' flavour.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

TINY_NAME = "tiny-qwen2"

# Qwen2's pre-tokenizer split pattern (contractions, letters, single digits, punctuation runs, newlines).
QWEN2_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# Bundled texts the tokenizer and the short pretraining read: (package, file).
BUNDLED_CORPUS = [
    ("personas", "linzhi/dialogues.jsonl"),
    ("personas", "linzhi/card.json"),
    ("spreads", "readings-sample.jsonl"),
    ("spreads", "deck.json"),
]
PRETRAIN_SECONDS_CAP = 20  # stays inside the 30 s promise on a slow or busy machine
FALLBACK_TEXT = (
    "Hello! How are you today? I am fine, thank you. 你好，今天过得怎么样？我很好，谢谢。"
    "The quick brown fox jumps over the lazy dog 0123456789. 塔罗牌：愚人(正位)，星币十(逆位)。"
)


@dataclass
class TinyShape:
    vocab_size: int = 4096
    hidden_size: int = 256  # a multiple of 256 so K-quants apply in GGUF tests
    intermediate_size: int = 768
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 4096
    pretrain_steps: int = 300
    seed: int = 0


def bundled_texts() -> list[str]:
    """Every conversation, reading and card text shipped with hearth, as plain strings."""
    texts: list[str] = []
    for package, name in BUNDLED_CORPUS:
        try:
            raw = resources.files(package).joinpath(name).read_text(encoding="utf-8")
        except (FileNotFoundError, ModuleNotFoundError):
            continue
        lines = raw.splitlines() if name.endswith(".jsonl") else [raw]
        for line in lines:
            if line.strip():
                texts.extend(_strings_in(json.loads(line)))
    return texts or [FALLBACK_TEXT]


def _strings_in(obj) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings_in(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings_in(v)]
    return []


def train_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer with Qwen's splitter, specials appended after the learned vocab."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(SPECIAL_TOKENS),
        min_frequency=2,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS,
        chat_template=CHATML_TEMPLATE,
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )


def build_tiny_base(out_dir: str | Path, shape: TinyShape | None = None) -> Path:
    """Build the tiny model and tokenizer into `out_dir` (Hugging Face format, safetensors)."""
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from hearth.atomic import atomic_dir

    shape = shape or TinyShape()
    torch.manual_seed(shape.seed)
    texts = bundled_texts()
    tokenizer = train_tokenizer(texts, shape.vocab_size)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    endoftext = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen2Config(
        vocab_size=_round_up(len(tokenizer), 64),  # padded like Qwen's 151936 > 151665
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_hidden_layers,
        num_attention_heads=shape.num_attention_heads,
        num_key_value_heads=shape.num_key_value_heads,
        max_position_embeddings=shape.max_position_embeddings,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
        bos_token_id=endoftext,
        eos_token_id=im_end,
        pad_token_id=endoftext,
    )
    model = Qwen2ForCausalLM(config)
    _pretrain(model, tokenizer, texts, shape)
    model.generation_config = GenerationConfig(eos_token_id=im_end, pad_token_id=endoftext, bos_token_id=endoftext)
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return Path(out_dir)


def bundled_conversations() -> list[list[dict]]:
    """The bundled dialogues as chat messages (what the short pretraining pass reads)."""
    try:
        raw = resources.files("personas").joinpath("linzhi/dialogues.jsonl").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        return []
    return [json.loads(line)["messages"] for line in raw.splitlines() if line.strip()]


def _pretrain(model, tokenizer, texts: list[str], shape: TinyShape) -> None:
    """A few seconds of next-token prediction on the bundled dialogues rendered with the chat
    template (and the other texts as plain text), so the base writes the corpus' language and has
    learned that `<|im_end|>` ends a turn — the demo's chat then says something and stops."""
    if shape.pretrain_steps <= 0:
        return
    from tuner.chat_render import render_chat

    documents = [render_chat(tokenizer, c) for c in bundled_conversations()] or texts
    ids = [i for d in documents for i in tokenizer(d, add_special_tokens=False)["input_ids"]]
    block, batch = 128, 4  # small batches: more steps fit the time cap, and early steps matter most
    data = torch.tensor(ids[: (len(ids) // block) * block]).view(-1, block)
    if len(data) == 0:
        return
    generator = torch.Generator().manual_seed(shape.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    model.train()
    started = time.perf_counter()
    for step in range(shape.pretrain_steps):
        rows = data[torch.randint(len(data), (batch,), generator=generator)]
        model(input_ids=rows, labels=rows).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if time.perf_counter() - started > PRETRAIN_SECONDS_CAP:
            break
    model.eval()


def _round_up(n: int, multiple: int) -> int:
    return (n + multiple - 1) // multiple * multiple


def tiny_base_dir() -> Path:
    from hearth.paths import models_dir

    return models_dir() / TINY_NAME


def ensure_tiny_base() -> Path:
    """The tiny base under HEARTH_HOME/models, built on first use."""
    path = tiny_base_dir()
    if not (path / "config.json").exists():
        build_tiny_base(path)
    return path
