"""A GGUF file a user already has (from Ollama, LM Studio, a download) becomes a base model to fine-tune.

transformers reads GGUF itself and does the dequantizing (`from_pretrained(dir, gguf_file=...)`); this module
checks the file first (GGUF files come from strangers), then writes only what that loader does not: a plain
model (transformers 5 marks a GGUF-loaded model as quantized and refuses to save it, so the weights move into a
fresh model built from the same config), the pre-tokenizer the GGUF names but the loader rebuilds as plain
ByteLevel, and a generation config whose end of turn is the chat template's. The result is an ordinary
Hugging Face folder with bf16 safetensors, under `HEARTH_HOME/models/NAME`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from hearth.errors import UserError

GGUF_MAGIC = b"GGUF"
# GGUF architectures hearth can import: general.architecture -> what it becomes in transformers.
# (transformers' GGUF loader reads more, but hearth trains and exports these.)
IMPORTABLE_ARCHITECTURES = {
    "llama": "LlamaForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
}
# tokenizer.ggml.pre -> the pre-tokenizer steps to put before ByteLevel, for vocabularies whose split the
# loader does not rebuild. SmolLM splits digits one by one (llama.cpp's "smollm"); without it "2024" would
# tokenize differently from training data the original tokenizer produced.
PRE_TOKENIZER_PREFIXES = {
    "smollm": [{"type": "Digits", "individual_digits": True}],
}
# End-of-turn tokens of the chat templates hearth knows, most specific first: a template that writes one of
# these closes each turn with it, so generation must stop there (the GGUF's eos is often the document end).
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|end_of_text|>", "</s>")
MAX_METADATA_BYTES = 64 * 1024 * 1024  # the reader maps the file; this bounds the strings it copies out


@dataclass(frozen=True)
class GgufSummary:
    """What the file says about itself, read before anything is loaded."""

    path: Path
    architecture: str
    name: str
    tensor_count: int
    file_type: int | None
    pre_tokenizer: str | None = None  # tokenizer.ggml.pre: how the vocabulary splits text before BPE


def read_gguf_summary(path: str | Path) -> GgufSummary:
    """Check that `path` is a GGUF model hearth can import, and say what it holds; refuse in one line otherwise."""
    path = Path(path).expanduser()
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path} is a directory; give the .gguf file itself") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if magic != GGUF_MAGIC:
        raise UserError(f"{path} is not a GGUF file (it does not start with 'GGUF')")
    try:
        from gguf import GGUFReader

        reader = GGUFReader(path)
        fields = reader.fields
        architecture = _field_text(fields, "general.architecture")
        name = _field_text(fields, "general.name") or path.stem
        file_type = _field_int(fields, "general.file_type")
        pre_tokenizer = _field_text(fields, "tokenizer.ggml.pre")
        tensor_count = len(reader.tensors)
    except UserError:
        raise
    except Exception as exc:  # a truncated or corrupt file makes the reader fail in many ways
        raise UserError(f"{path} is not a readable GGUF file ({type(exc).__name__}: {str(exc)[:200]})") from None
    if tensor_count == 0:
        raise UserError(f"{path} holds a vocabulary only (no weights); import a GGUF model file")
    if architecture not in IMPORTABLE_ARCHITECTURES:
        raise UserError(
            f"{path}: architecture '{architecture}' cannot be imported as a base; "
            f"supported: {', '.join(IMPORTABLE_ARCHITECTURES)}"
        )
    return GgufSummary(path=path, architecture=architecture, name=name, tensor_count=tensor_count, file_type=file_type,
                       pre_tokenizer=pre_tokenizer)


def default_base_name(summary: GgufSummary) -> str:
    """A folder name from the GGUF's own name: 'SmolLM2 135M Instruct' -> 'smollm2-135m-instruct'."""
    slug = re.sub(r"[^a-z0-9.]+", "-", summary.name.casefold()).strip("-.")
    return slug[:64] or summary.path.stem.casefold()


def import_gguf_base(path: str | Path, name: str | None = None, *, force: bool = False) -> Path:
    """Import the GGUF at `path` as `HEARTH_HOME/models/NAME` (Hugging Face format, bf16 safetensors)."""
    from hearth.atomic import atomic_dir
    from hearth.paths import models_dir

    summary = read_gguf_summary(path)
    name = name or default_base_name(summary)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise UserError(f"--name '{name}': use letters, digits, '.', '_' and '-' only")
    target = models_dir() / name
    if (target / "config.json").exists() and not force:
        raise UserError(f"a base named '{name}' already exists at {target}; --force replaces it, --name picks another")
    model, tokenizer = _load_dequantized(summary)
    model.config._name_or_path = name
    tokenizer.model_max_length = getattr(model.config, "max_position_embeddings", None) or tokenizer.model_max_length
    _restore_pre_tokenizer(tokenizer, summary)
    model.generation_config = _generation_config(model, tokenizer)
    with atomic_dir(target) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "hearth-import.json").write_text(
            json.dumps({"source": str(summary.path), "gguf_name": summary.name, "architecture": summary.architecture,
                        "tensors": summary.tensor_count, "file_type": summary.file_type}, indent=2) + "\n",
            encoding="utf-8",
        )
    return target


def _load_dequantized(summary: GgufSummary):
    """transformers' own GGUF loading, then the weights moved into a plain model that saves as safetensors."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from tuner.quiet import quiet_gguf_loading

    quiet_gguf_loading()
    folder, file = str(summary.path.parent), summary.path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
        config = AutoConfig.from_pretrained(folder, gguf_file=file)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype=torch.float32)
    except (ValueError, KeyError, NotImplementedError) as exc:  # what the loader raises for what it cannot read
        raise UserError(f"{summary.path}: transformers cannot load this GGUF ({str(exc)[:200]})") from None
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.bfloat16
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    missing = [key for key in missing if not (config.tie_word_embeddings and key == "lm_head.weight")]
    if missing or unexpected:
        raise UserError(f"{summary.path}: the weights do not fit the model they describe "
                        f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.tie_weights()
    return model.eval(), tokenizer


def _restore_pre_tokenizer(tokenizer, summary: GgufSummary) -> None:
    """Put back the splitting steps the GGUF's `tokenizer.ggml.pre` names and the loader leaves out."""
    prefix = PRE_TOKENIZER_PREFIXES.get(summary.pre_tokenizer or "")
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if not prefix or backend is None:
        return
    current = json.loads(backend.to_str()).get("pre_tokenizer")
    if current and current.get("type") == "Sequence" and current.get("pretokenizers", [])[: len(prefix)] == prefix:
        return  # already there (a future loader may rebuild it)
    steps = [*prefix, current] if current else prefix
    backend.pre_tokenizer = _pre_tokenizer_from_json(steps)


def _pre_tokenizer_from_json(steps: list[dict]):
    from tokenizers import Tokenizer

    # tokenizers builds components only from a whole tokenizer's JSON; a minimal one carries the sequence.
    spec = {"version": "1.0", "model": {"type": "WordLevel", "vocab": {"x": 0}, "unk_token": "x"},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": steps}}
    return Tokenizer.from_str(json.dumps(spec)).pre_tokenizer


def _generation_config(model, tokenizer):
    """End generation at the chat template's end of turn as well as the model's own eos."""
    from transformers import GenerationConfig

    template = tokenizer.chat_template or ""
    eos_ids = [model.config.eos_token_id] if isinstance(model.config.eos_token_id, int) else list(model.config.eos_token_id or [])
    for token in END_OF_TURN_TOKENS:
        token_id = tokenizer.convert_tokens_to_ids(token) if token in template else None
        if isinstance(token_id, int) and token_id != tokenizer.unk_token_id and token_id not in eos_ids:
            eos_ids.insert(0, token_id)
            break
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos_ids[0] if eos_ids else None)
    return GenerationConfig(
        bos_token_id=model.config.bos_token_id,
        eos_token_id=eos_ids[0] if len(eos_ids) == 1 else eos_ids,
        pad_token_id=pad,
    )


def _field_text(fields, key: str) -> str | None:
    field = fields.get(key)
    if field is None or not field.data:
        return None
    value = field.parts[field.data[0]]
    if value.nbytes > MAX_METADATA_BYTES:
        raise UserError(f"GGUF field {key} is {value.nbytes} bytes long; refusing a file this odd")
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _field_int(fields, key: str) -> int | None:
    field = fields.get(key)
    if field is None or not field.data:
        return None
    try:
        return int(field.parts[field.data[0]][0])
    except (TypeError, ValueError, IndexError):
        return None
