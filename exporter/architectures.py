"""Which Hugging Face architectures hearth converts, and how each one's `config.json` and tensor
names become GGUF metadata and tensor names.

One row per architecture in `ARCHITECTURES`; the metadata is a table of (writer method, value) rows;
tensor names go through gguf-py's own `TensorNameMap`. Adding an architecture that llama.cpp already
knows is one row here plus a test model.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import gguf
import numpy as np

from hearth.errors import UserError


@dataclass(frozen=True)
class HFConfig:
    """The fields of a Hugging Face `config.json` the converter reads, with their defaults."""

    raw: dict
    path: Path

    def __getitem__(self, key: str):
        if key not in self.raw:
            raise UserError(f"the config has no '{key}', which a GGUF file needs; is this a complete model directory?",
                            where=str(self.path))
        return self.raw[key]

    def get(self, key: str, default=None):
        value = self.raw.get(key)
        return default if value is None else value

    @property
    def architecture(self) -> str:
        names = self.raw.get("architectures") or []
        return names[0] if names else str(self.raw.get("model_type", "unknown"))

    @property
    def n_head(self) -> int:
        return self["num_attention_heads"]

    @property
    def n_head_kv(self) -> int:
        return self.get("num_key_value_heads", self.n_head)

    @property
    def explicit_head_dim(self) -> int | None:
        return self.raw.get("head_dim")

    @property
    def head_dim(self) -> int:
        return self.explicit_head_dim or self["hidden_size"] // self.n_head

    @property
    def rope(self) -> dict:
        """RoPE parameters: transformers 5 writes `rope_parameters`; older files `rope_theta` + `rope_scaling`."""
        params = dict(self.raw.get("rope_parameters") or self.raw.get("rope_scaling") or {})
        params.setdefault("rope_theta", self.get("rope_theta", 10000.0))
        params["rope_type"] = params.get("rope_type") or params.get("type") or "default"
        return params

    @property
    def ties_embeddings(self) -> bool:
        return bool(self.raw.get("tie_word_embeddings", False))


def load_config(model_dir: Path) -> HFConfig:
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        raise UserError("no config.json here; give a Hugging Face model directory (config.json, safetensors, tokenizer)",
                        where=str(model_dir))
    return HFConfig(json.loads(path.read_text(encoding="utf-8")), path)


# ---- metadata rows: (GGUFWriter method, value from the config or None to skip) ----

MetadataRow = tuple[str, Callable[[HFConfig], object]]

COMMON_METADATA: tuple[MetadataRow, ...] = (
    ("add_context_length", lambda c: c["max_position_embeddings"]),
    ("add_embedding_length", lambda c: c["hidden_size"]),
    ("add_block_count", lambda c: c["num_hidden_layers"]),
    ("add_feed_forward_length", lambda c: c["intermediate_size"]),
    ("add_head_count", lambda c: c.n_head),
    ("add_head_count_kv", lambda c: c.n_head_kv),
    ("add_rope_freq_base", lambda c: float(c.rope["rope_theta"])),
    ("add_layer_norm_rms_eps", lambda c: float(c["rms_norm_eps"])),
    # Only when the config says so: Qwen3's head_dim * heads differs from hidden_size.
    ("add_key_length", lambda c: c.explicit_head_dim),
    ("add_value_length", lambda c: c.explicit_head_dim),
)

LLAMA_METADATA: tuple[MetadataRow, ...] = (
    ("add_vocab_size", lambda c: c["vocab_size"]),
    ("add_rope_dimension_count", lambda c: c.head_dim),
)


@dataclass(frozen=True)
class ArchSpec:
    gguf_arch: gguf.MODEL_ARCH
    # HF stores q/k rows for rotate-half RoPE; llama.cpp's `llama` graph expects interleaved pairs.
    # NEOX-rope architectures (Qwen) take the rows as they are.
    permute_qk: bool
    metadata: tuple[MetadataRow, ...] = COMMON_METADATA

    @property
    def name(self) -> str:
        return gguf.MODEL_ARCH_NAMES[self.gguf_arch]


ARCHITECTURES: dict[str, ArchSpec] = {
    # Qwen1.5, Qwen2, Qwen2.5, DeepSeek-R1-Distill-Qwen
    "Qwen2ForCausalLM": ArchSpec(gguf.MODEL_ARCH.QWEN2, permute_qk=False),
    "Qwen3ForCausalLM": ArchSpec(gguf.MODEL_ARCH.QWEN3, permute_qk=False),
    # Llama 2/3, TinyLlama, and Mistral-style models, which llama.cpp runs with the llama graph
    "LlamaForCausalLM": ArchSpec(gguf.MODEL_ARCH.LLAMA, permute_qk=True, metadata=COMMON_METADATA + LLAMA_METADATA),
    "MistralForCausalLM": ArchSpec(gguf.MODEL_ARCH.LLAMA, permute_qk=True, metadata=COMMON_METADATA + LLAMA_METADATA),
}


def arch_for(config: HFConfig) -> ArchSpec:
    spec = ARCHITECTURES.get(config.architecture)
    if spec is None:
        supported = ", ".join(sorted(ARCHITECTURES))
        raise UserError(f"architecture '{config.architecture}' is not supported for GGUF export; "
                        f"supported: {supported}", where=str(config.path))
    return spec


def metadata_values(spec: ArchSpec, config: HFConfig) -> list[tuple[str, object]]:
    rows = [(method, value(config)) for method, value in spec.metadata]
    rows += rope_scaling_rows(config)
    return [(method, value) for method, value in rows if value is not None]


# ---- RoPE scaling: rope_type → metadata rows (and, for llama3, a frequency-factor tensor) ----

ROPE_SCALING: dict[str, Callable[[dict], list[tuple[str, object]]]] = {
    "default": lambda r: [],
    # llama3 scaling is carried by the `rope_freqs` tensor, not by metadata
    "llama3": lambda r: [],
    "linear": lambda r: [("add_rope_scaling_type", gguf.RopeScalingType.LINEAR),
                         ("add_rope_scaling_factor", float(r["factor"]))],
    "yarn": lambda r: [("add_rope_scaling_type", gguf.RopeScalingType.YARN),
                       ("add_rope_scaling_factor", float(r["factor"])),
                       ("add_rope_scaling_orig_ctx_len", int(r["original_max_position_embeddings"]))],
}


def rope_scaling_rows(config: HFConfig) -> list[tuple[str, object]]:
    rope = config.rope
    rows = ROPE_SCALING.get(rope["rope_type"])
    if rows is None:
        raise UserError(f"RoPE scaling '{rope['rope_type']}' cannot be written to GGUF by hearth; "
                        f"supported: {', '.join(ROPE_SCALING)}", where=str(config.path))
    return rows(rope)


def llama3_rope_factors(config: HFConfig) -> np.ndarray | None:
    """Llama 3.1+ scales each RoPE frequency by a factor; llama.cpp reads them from `rope_freqs.weight`."""
    rope = config.rope
    if rope["rope_type"] != "llama3":
        return None
    dim = config.head_dim
    freqs = 1.0 / (float(rope["rope_theta"]) ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    factor = float(rope["factor"])
    low, high = float(rope.get("low_freq_factor", 1.0)), float(rope.get("high_freq_factor", 4.0))
    old_context = float(rope["original_max_position_embeddings"])
    wavelen = 2 * math.pi / freqs
    smooth = (old_context / wavelen - low) / (high - low)
    blended = 1.0 / ((1 - smooth) / factor + smooth)
    factors = np.where(wavelen < old_context / high, 1.0, np.where(wavelen > old_context / low, factor, blended))
    return factors.astype(np.float32)


# ---- tensor names ----

# HF buffers that are not weights; llama.cpp recomputes them.
DROPPED_SUFFIXES = ("rotary_emb.inv_freq",)

# Several kinds share a name template (FFN_NORM and FFN_PRE_NORM are both `blk.{bid}.ffn_norm`).
_TENSOR_KINDS_BY_TEMPLATE: dict[str, set[gguf.MODEL_TENSOR]] = {}
for _kind, _template in gguf.TENSOR_NAMES.items():
    _TENSOR_KINDS_BY_TEMPLATE.setdefault(_template, set()).add(_kind)


def gguf_tensor_name(spec: ArchSpec, n_blocks: int, hf_name: str, *, where: str) -> str | None:
    """The GGUF name for an HF tensor name (`None` for buffers llama.cpp does not store)."""
    if hf_name.endswith(DROPPED_SUFFIXES):
        return None
    name = _name_map(spec, n_blocks).get_name(hf_name, try_suffixes=(".weight", ".bias"))
    if name is None or not tensor_kinds(name) & set(gguf.MODEL_TENSORS[spec.gguf_arch]):
        raise UserError(f"tensor '{hf_name}' has no place in a '{spec.name}' GGUF file; "
                        "is the model a plain causal LM of its architecture?", where=where)
    return name


def tensor_kinds(gguf_name: str) -> set[gguf.MODEL_TENSOR]:
    """`blk.3.attn_q.weight` → {MODEL_TENSOR.ATTN_Q}."""
    template = re.sub(r"^blk\.\d+\.", "blk.{bid}.", gguf_name)
    template = re.sub(r"\.(weight|bias)(\.lora_[ab])?$", "", template)
    return _TENSOR_KINDS_BY_TEMPLATE.get(template, set())


_name_maps: dict[tuple[gguf.MODEL_ARCH, int], gguf.TensorNameMap] = {}


def _name_map(spec: ArchSpec, n_blocks: int) -> gguf.TensorNameMap:
    key = (spec.gguf_arch, n_blocks)
    if key not in _name_maps:
        _name_maps[key] = gguf.get_tensor_name_map(spec.gguf_arch, n_blocks)
    return _name_maps[key]


# ---- the Llama q/k row permutation ----

# Which tensor kinds are permuted, and with which head count.
PERMUTED_HEADS: dict[gguf.MODEL_TENSOR, Callable[[HFConfig], int]] = {
    gguf.MODEL_TENSOR.ATTN_Q: lambda c: c.n_head,
    gguf.MODEL_TENSOR.ATTN_K: lambda c: c.n_head_kv,
}


def qk_permutation_heads(spec: ArchSpec, config: HFConfig, gguf_name: str) -> int | None:
    """The head count to permute this tensor's rows with, or None when it is taken as it is."""
    if not spec.permute_qk:
        return None
    heads = [PERMUTED_HEADS[kind] for kind in tensor_kinds(gguf_name) if kind in PERMUTED_HEADS]
    return heads[0](config) if heads else None


def permute_rows(array: np.ndarray, n_heads: int) -> np.ndarray:
    """Rotate-half row order → interleaved pairs, per head. Works on weights (rows, cols),
    biases (rows,) and LoRA B matrices (rows, r) alike: only the row order changes."""
    rows = array.shape[0]
    grouped = array.reshape(n_heads, 2, rows // n_heads // 2, *array.shape[1:])
    return grouped.swapaxes(1, 2).reshape(array.shape)
