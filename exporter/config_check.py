"""config.json against the weights, before any GGUF is planned.

The GGUF metadata is written from config.json, and llama.cpp checks every tensor's shape against it:
a hidden size that contradicts the tensors gives a file llama.cpp refuses to load, and a million
`num_hidden_layers` has the converter build name tables for a million layers. A stranger's
config.json is checked here first — its numbers whole and positive, and each one that a tensor's
shape also says the same as that shape — and refused in one line naming the field.
"""

from __future__ import annotations

import re
from typing import Callable, Mapping, NoReturn

from exporter.architectures import HFConfig
from exporter.tensors import SourceTensor
from hearth.errors import UserError

# Fields that must be whole positive numbers when present.
COUNT_FIELDS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
                "intermediate_size", "vocab_size", "max_position_embeddings")
# The block index in an HF tensor name: model.layers.3., transformer.h.3., gpt_neox.layers.3., ….
LAYER_INDEX = re.compile(r"(?:^|\.)(?:layers|h|blocks|layer)\.(\d+)\.")
EMBEDDINGS = ("embed_tokens.weight", "wte.weight", "word_embeddings.weight", "tok_embeddings.weight", "embed_in.weight")

# (field, tensor name endings, which dimension, what the config says that dimension is, how to say it)
ShapeRule = tuple[str, tuple[str, ...], int, Callable[[HFConfig], int], str]
SHAPE_RULES: tuple[ShapeRule, ...] = (
    ("hidden_size", EMBEDDINGS, 1, lambda c: c["hidden_size"], "hidden_size {value}"),
    ("vocab_size", EMBEDDINGS, 0, lambda c: c["vocab_size"], "vocab_size {value}"),
    ("num_attention_heads", ("self_attn.q_proj.weight",), 0, lambda c: c.n_head * c.head_dim,
     "num_attention_heads × head size = {value}"),
    ("num_key_value_heads", ("self_attn.k_proj.weight",), 0, lambda c: c.n_head_kv * c.head_dim,
     "num_key_value_heads × head size = {value}"),
    ("intermediate_size", ("mlp.gate_proj.weight", "mlp.up_proj.weight"), 0, lambda c: c["intermediate_size"],
     "intermediate_size {value}"),
)


def check_config(config: HFConfig, tensors: Mapping[str, SourceTensor]) -> None:
    """Refuse a config.json whose numbers the weights contradict, naming the field."""
    for key in COUNT_FIELDS:
        value = config.raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            _refuse(config, key, f"is {value!r}; it must be a whole number above 0")
    stack = _layer_stack(config, tensors)
    for field, endings, dim, expected, says in SHAPE_RULES:
        for name, tensor in tensors.items():
            in_scope = endings is EMBEDDINGS or name.startswith(stack)  # not a vision tower's layers
            if in_scope and name.endswith(endings) and len(tensor.shape) == 2 and tensor.shape[dim] != expected(config):
                shape = "×".join(map(str, tensor.shape))
                _refuse(config, field, f"says {says.format(value=expected(config))}, but the weights' {name} is {shape}")


def _layer_stack(config: HFConfig, tensors: Mapping[str, SourceTensor]) -> str:
    """The name prefix of the stack of layers num_hidden_layers counts (a multimodal file holds a vision stack too)."""
    stacks: dict[str, set[int]] = {}
    for name in tensors:
        match = LAYER_INDEX.search(name)
        if match:
            stacks.setdefault(name[:match.start(1)], set()).add(int(match.group(1)))  # "model.layers."
    count = config["num_hidden_layers"]
    for prefix, indices in stacks.items():
        if max(indices) + 1 == count:
            return prefix
    held = " and ".join(str(max(indices) + 1) for indices in stacks.values()) or "no"
    _refuse(config, "num_hidden_layers", f"is {count:,}, but the weights hold {held} layers")


def _refuse(config: HFConfig, field: str, why: str) -> NoReturn:
    raise UserError(f"'{field}' {why}; the config does not describe these weights", where=str(config.path))
