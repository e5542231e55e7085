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
        """RoPE parameters of the full-attention layers: transformers 5 writes `rope_parameters` (per layer
        type for Gemma 3); older files `rope_theta` + `rope_scaling`."""
        return self.rope_of("full_attention")

    def rope_of(self, layer_type: str) -> dict:
        params = self.raw.get("rope_parameters") or self.raw.get("rope_scaling") or {}
        nested = isinstance(params.get(layer_type), dict)
        params = dict(params[layer_type] if nested else params)
        key, default = LAYER_ROPE_THETA.get(layer_type, ("rope_theta", None))
        params.setdefault("rope_theta", self.get(key, default or self.get("rope_theta", 10000.0)))
        params["rope_type"] = params.get("rope_type") or params.get("type") or "default"
        if self.raw.get("original_max_position_embeddings"):  # Phi-3 keeps it beside, not inside, its rope dict
            params.setdefault("original_max_position_embeddings", self.raw["original_max_position_embeddings"])
        return params

    def layer_types(self, default_pattern: int) -> list[str]:
        """Per layer "sliding_attention" or "full_attention": transformers 5 writes `layer_types`; older
        Gemma configs give `sliding_window_pattern` (every n-th layer full)."""
        if self.raw.get("layer_types"):
            return list(self.raw["layer_types"])
        pattern = int(self.get("sliding_window_pattern", default_pattern))
        return ["sliding_attention" if (i + 1) % pattern else "full_attention"
                for i in range(self["num_hidden_layers"])]

    @property
    def ties_embeddings(self) -> bool:
        return bool(self.raw.get("tie_word_embeddings", False))


# Older configs name the sliding layers' RoPE base separately: Gemma 3's `rope_local_base_freq`, 10000
# when absent (as transformers defaults it).
LAYER_ROPE_THETA = {"sliding_attention": ("rope_local_base_freq", 10000.0)}


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


def _is_sliding(config: HFConfig, default_pattern: int) -> list[bool]:
    return [kind == "sliding_attention" for kind in config.layer_types(default_pattern)]


# Gemma 2: tanh soft-capping of attention scores and final logits (llama.cpp always caps Gemma 2's
# attention, so both values are required), sliding-window attention on every other layer.
GEMMA2_METADATA: tuple[MetadataRow, ...] = COMMON_METADATA + (
    ("add_attn_logit_softcapping", lambda c: float(c["attn_logit_softcapping"])),
    ("add_final_logit_softcapping", lambda c: float(c["final_logit_softcapping"])),
    ("add_sliding_window", lambda c: c["sliding_window"]),
    ("add_sliding_window_pattern", lambda c: _is_sliding(c, 2)),
)

# Gemma 3: no attention soft-capping; sliding layers (5 of 6) rotate with their own RoPE base.
GEMMA3_METADATA: tuple[MetadataRow, ...] = COMMON_METADATA + (
    ("add_final_logit_softcapping", lambda c: c.get("final_logit_softcapping")),
    ("add_sliding_window", lambda c: c["sliding_window"]),
    ("add_sliding_window_pattern", lambda c: _is_sliding(c, 6)),
    ("add_rope_freq_base_swa", lambda c: float(c.rope_of("sliding_attention")["rope_theta"])),
)


def _rotary_dims(c: HFConfig) -> int:
    return int(c.head_dim * float(c.rope.get("partial_rotary_factor") or c.get("partial_rotary_factor", 1.0)))


# Phi-3/3.5: fused qkv and gate_up as the checkpoint stores them; llama.cpp splits them itself.
# It runs Phi-3 without its sliding window (llama.cpp PR 13676): the same as HF up to the window.
PHI3_METADATA: tuple[MetadataRow, ...] = COMMON_METADATA + (
    ("add_rope_dimension_count", _rotary_dims),
    ("add_rope_scaling_orig_ctx_len", lambda c: c.get("original_max_position_embeddings")),
    ("add_sliding_window", lambda c: c.get("sliding_window", 0)),
)


# ---- what llama.cpp's graph assumes of a config; anything else is refused rather than run wrongly ----

ConfigCheck = tuple[Callable[[HFConfig], bool], str]


def _gemma_attention_scale_ok(c: HFConfig, big_layers: int) -> bool:
    """llama.cpp scales Gemma's attention by 1/sqrt(head_dim), except the 27B (by its layer count), which
    uses hidden/heads; HF uses `query_pre_attn_scalar`."""
    expected = c["hidden_size"] // c.n_head if c["num_hidden_layers"] == big_layers else c.head_dim
    return float(c.get("query_pre_attn_scalar", c.head_dim)) == float(expected)


GEMMA_SCALE_MESSAGE = ("query_pre_attn_scalar {query_pre_attn_scalar} is not the attention scale llama.cpp uses for "
                       "this Gemma (head_dim {head_dim}, or hidden_size/heads for the 27B)")
GEMMA2_CHECKS: tuple[ConfigCheck, ...] = (
    (lambda c: _gemma_attention_scale_ok(c, 46), GEMMA_SCALE_MESSAGE),
    (lambda c: c.get("hidden_activation", "gelu_pytorch_tanh") == "gelu_pytorch_tanh",
     "hidden_activation {hidden_activation} is not the tanh GELU llama.cpp runs Gemma with"),
)
GEMMA3_CHECKS: tuple[ConfigCheck, ...] = GEMMA2_CHECKS[1:] + (
    (lambda c: _gemma_attention_scale_ok(c, 62), GEMMA_SCALE_MESSAGE),
    (lambda c: not c.get("attn_logit_softcapping"), "attn_logit_softcapping is set, which llama.cpp's Gemma 3 ignores"),
    (lambda c: not c.get("use_bidirectional_attention"), "use_bidirectional_attention is on; this is not a causal LM"),
)
PHI3_CHECKS: tuple[ConfigCheck, ...] = (
    (lambda c: c.get("hidden_act", "silu") == "silu",
     "hidden_act {hidden_act} is not the SiLU llama.cpp runs Phi-3 with"),
)


@dataclass(frozen=True)
class ArchSpec:
    gguf_arch: gguf.MODEL_ARCH
    # HF stores q/k rows for rotate-half RoPE; llama.cpp's `llama` graph expects interleaved pairs.
    # NEOX-rope architectures (Qwen) take the rows as they are.
    permute_qk: bool
    metadata: tuple[MetadataRow, ...] = COMMON_METADATA
    # Gemma's RMSNorm multiplies by (1 + w) and stores w; llama.cpp multiplies by the stored weight.
    norm_offset: float = 0.0
    checks: tuple[ConfigCheck, ...] = ()
    # llama.cpp gives Phi-3's special tokens their `rstrip` (swallow the whitespace after them, as the HF
    # tokenizer does) only when general.name contains "phi3": a run's name must carry it too.
    name_marker: str | None = None

    def file_name(self, name: str) -> str:
        """general.name as the runtime needs it."""
        if self.name_marker is None or self.name_marker in name.lower().replace("-", ""):
            return name
        return f"{name}-{self.name_marker}"

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
    # Gemma 2 (2B/9B/27B) and Gemma 3 text models (270M, 1B; larger ones ship as image-text models)
    "Gemma2ForCausalLM": ArchSpec(gguf.MODEL_ARCH.GEMMA2, permute_qk=False, metadata=GEMMA2_METADATA,
                                  norm_offset=1.0, checks=GEMMA2_CHECKS),
    "Gemma3ForCausalLM": ArchSpec(gguf.MODEL_ARCH.GEMMA3, permute_qk=False, metadata=GEMMA3_METADATA,
                                  norm_offset=1.0, checks=GEMMA3_CHECKS),
    # Phi-3 and Phi-3.5 mini/medium
    "Phi3ForCausalLM": ArchSpec(gguf.MODEL_ARCH.PHI3, permute_qk=False, metadata=PHI3_METADATA, checks=PHI3_CHECKS,
                                name_marker="phi3"),
}


def arch_for(config: HFConfig) -> ArchSpec:
    spec = ARCHITECTURES.get(config.architecture)
    if spec is None:
        supported = ", ".join(sorted(ARCHITECTURES))
        raise UserError(f"architecture '{config.architecture}' is not supported for GGUF export; "
                        f"supported: {supported}", where=str(config.path))
    for holds, message in spec.checks:
        if not holds(config):
            values = {**config.raw, "head_dim": config.head_dim}
            raise UserError(f"{message.format_map(_Missing(values))}; llama.cpp would run this model differently "
                            "from transformers", where=str(config.path))
    return spec


class _Missing(dict):
    def __missing__(self, key):
        return "(unset)"


def metadata_values(spec: ArchSpec, config: HFConfig) -> list[tuple[str, object]]:
    rows = [(method, value(config)) for method, value in spec.metadata]
    rows += rope_scaling_rows(config)
    return [(method, value) for method, value in rows if value is not None]


# ---- RoPE scaling: rope_type → metadata rows, and the frequency-factor tensors some types need ----

def _longrope_attention_factor(r: dict, c: HFConfig) -> float:
    """The factor HF multiplies cos/sin by under LongRoPE (Phi-3.5), and llama.cpp its attention."""
    if r.get("attention_factor"):
        return float(r["attention_factor"])
    original = float(r["original_max_position_embeddings"])
    factor = float(r.get("factor") or c["max_position_embeddings"] / original)
    return math.sqrt(1 + math.log(factor) / math.log(original)) if factor > 1.0 else 1.0


ROPE_SCALING: dict[str, Callable[[dict, HFConfig], list[tuple[str, object]]]] = {
    "default": lambda r, c: [],
    # llama3 scaling is carried by the `rope_freqs` tensor, not by metadata
    "llama3": lambda r, c: [],
    "linear": lambda r, c: [("add_rope_scaling_type", gguf.RopeScalingType.LINEAR),
                            ("add_rope_scaling_factor", float(r["factor"]))],
    "yarn": lambda r, c: [("add_rope_scaling_type", gguf.RopeScalingType.YARN),
                          ("add_rope_scaling_factor", float(r["factor"])),
                          ("add_rope_scaling_orig_ctx_len", int(r["original_max_position_embeddings"]))],
    # Phi-3.5's per-frequency factors are tensors (below); the original context is a Phi-3 metadata row
    "longrope": lambda r, c: [("add_rope_scaling_attn_factors", _longrope_attention_factor(r, c))],
}


def rope_scaling_rows(config: HFConfig) -> list[tuple[str, object]]:
    rope = config.rope
    rows = ROPE_SCALING.get(rope["rope_type"])
    if rows is None:
        raise UserError(f"RoPE scaling '{rope['rope_type']}' cannot be written to GGUF by hearth; "
                        f"supported: {', '.join(ROPE_SCALING)}", where=str(config.path))
    return rows(rope, config)


def _llama3_rope_factors(config: HFConfig) -> list[tuple[gguf.MODEL_TENSOR, np.ndarray]]:
    """Llama 3.1+ scales each RoPE frequency by a factor; llama.cpp reads them from `rope_freqs.weight`."""
    rope = config.rope
    dim = config.head_dim
    freqs = 1.0 / (float(rope["rope_theta"]) ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    factor = float(rope["factor"])
    low, high = float(rope.get("low_freq_factor", 1.0)), float(rope.get("high_freq_factor", 4.0))
    old_context = float(rope["original_max_position_embeddings"])
    wavelen = 2 * math.pi / freqs
    smooth = (old_context / wavelen - low) / (high - low)
    blended = 1.0 / ((1 - smooth) / factor + smooth)
    factors = np.where(wavelen < old_context / high, 1.0, np.where(wavelen > old_context / low, factor, blended))
    return [(gguf.MODEL_TENSOR.ROPE_FREQS, factors.astype(np.float32))]


def _longrope_factors(config: HFConfig) -> list[tuple[gguf.MODEL_TENSOR, np.ndarray]]:
    """LongRoPE divides each frequency by a factor, one list for short contexts and one for long ones."""
    rope, half = config.rope, _rotary_dims(config) // 2
    tensors = [(kind, np.asarray(rope[key], dtype=np.float32)) for kind, key in (
        (gguf.MODEL_TENSOR.ROPE_FACTORS_LONG, "long_factor"), (gguf.MODEL_TENSOR.ROPE_FACTORS_SHORT, "short_factor"))]
    if any(len(values) != half for _, values in tensors):
        raise UserError(f"rope long_factor and short_factor must have {half} values each (rotary dims / 2)",
                        where=str(config.path))
    return tensors


ROPE_TENSORS: dict[str, Callable[[HFConfig], list[tuple[gguf.MODEL_TENSOR, np.ndarray]]]] = {
    "llama3": _llama3_rope_factors,
    "longrope": _longrope_factors,
}


def rope_tensors(config: HFConfig) -> list[tuple[str, np.ndarray]]:
    """(GGUF tensor name, float32 values) for the RoPE scaling types that need tensors."""
    build = ROPE_TENSORS.get(config.rope["rope_type"])
    return [(gguf.TENSOR_NAMES[kind] + ".weight", values) for kind, values in (build(config) if build else [])]


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


# RMSNorm weights of every kind, the ones Gemma stores offset by -1.
NORM_KINDS = frozenset({
    gguf.MODEL_TENSOR.ATTN_NORM, gguf.MODEL_TENSOR.ATTN_POST_NORM, gguf.MODEL_TENSOR.FFN_NORM,
    gguf.MODEL_TENSOR.FFN_PRE_NORM, gguf.MODEL_TENSOR.FFN_POST_NORM, gguf.MODEL_TENSOR.OUTPUT_NORM,
    gguf.MODEL_TENSOR.ATTN_Q_NORM, gguf.MODEL_TENSOR.ATTN_K_NORM,
})


def norm_offset(spec: ArchSpec, gguf_name: str) -> float:
    """What to add to this tensor's values (Gemma's norms: 1), else 0."""
    return spec.norm_offset if spec.norm_offset and tensor_kinds(gguf_name) & NORM_KINDS else 0.0


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
