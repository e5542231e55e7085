"""PEFT LoRA adapter → GGUF LoRA adapter, applied by llama.cpp on the base model's GGUF
(`Llama(base.gguf, lora_path=adapter.gguf)`).

llama.cpp computes each adapted weight as W + (alpha / r) · B·A, with one alpha for the file and r
read from each tensor's shape. PEFT's own scale can differ per module (rsLoRA's alpha/√r, an
`alpha_pattern`); that difference is folded into B, so the runtime result equals PEFT's exactly.
What llama.cpp cannot apply at all — full weights saved beside the adapter, LoRA on the token
embedding or on a tied output head, DoRA, trained biases — is refused with the reason and the
advice to export the merged model instead.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

from exporter.architectures import (ArchSpec, HFConfig, arch_for, gguf_tensor_name, load_config, permute_rows,
                                    qk_permutation_heads)
from exporter.tensors import read_header
from hearth.atomic import atomic_path
from hearth.errors import UserError

MERGE_ADVICE = "export the merged model instead (`hearth export RUN` without --lora)"
PEFT_PREFIX = "base_model.model."
LORA_SUFFIX = re.compile(r"^(?P<module>.+)\.lora_(?P<half>[AB])\.weight$")


@dataclass
class LoraExport:
    path: Path
    arch: str
    alpha: float
    ranks: list[int]
    n_tensors: int
    folded_modules: int  # modules whose PEFT scale differed from alpha/r and was folded into B

    def as_dict(self) -> dict:
        return {"path": str(self.path), "arch": self.arch, "alpha": self.alpha, "ranks": sorted(set(self.ranks)),
                "tensors": self.n_tensors, "folded_modules": self.folded_modules}


def _refuse(reason: str, where: Path) -> UserError:
    return UserError(f"this adapter cannot be written as a GGUF LoRA: {reason}; {MERGE_ADVICE}", where=str(where))


# (what PEFT config field, is it a problem, the reason) — adapters llama.cpp cannot apply.
CONFIG_REFUSALS = (
    ("use_dora", lambda v: bool(v), "it is a DoRA adapter, whose magnitude vectors llama.cpp does not apply"),
    ("bias", lambda v: v not in (None, "none"), "it trains biases, which a GGUF LoRA cannot carry"),
    ("modules_to_save", lambda v: bool(v), "it saves full weights of {value} beside the LoRA matrices"),
    ("trainable_token_indices", lambda v: bool(v), "it trains rows of the token embedding"),
)


def adapter_base_dir(adapter_dir: Path, peft_config: dict, fallback: Path | None = None) -> Path:
    """The base model's directory: adapter_config's base_model_name_or_path, else `fallback`
    (a run's merged/ model, which has the base's architecture and shapes)."""
    base = Path(peft_config.get("base_model_name_or_path") or "")
    if (base / "config.json").is_file():
        return base
    if fallback is not None and (Path(fallback) / "config.json").is_file():
        return Path(fallback)
    raise UserError(f"the base model '{base}' named in adapter_config.json is not a local model directory",
                    where=str(adapter_dir / "adapter_config.json"))


@dataclass
class _Checked:
    """An adapter llama.cpp can apply: its PEFT config, the base's config and architecture, its matrices by
    module and each module's tensor name in a GGUF file."""

    adapter_dir: Path
    peft: dict
    base: HFConfig
    spec: ArchSpec
    pairs: dict[str, list]
    names: dict[str, str]


def _check(adapter_dir: Path, base_dir: Path | None = None) -> _Checked:
    """Everything export_lora refuses, found from the config and the safetensors headers, before any writing."""
    fallback = None
    if (adapter_dir / "adapter" / "adapter_config.json").is_file():  # a run directory
        adapter_dir, fallback = adapter_dir / "adapter", adapter_dir / "merged"
    config_path = adapter_dir / "adapter_config.json"
    if not config_path.is_file():
        raise UserError("no adapter_config.json here; give a PEFT adapter directory or a run", where=str(adapter_dir))
    peft = json.loads(config_path.read_text(encoding="utf-8"))
    if peft.get("peft_type", "LORA") != "LORA":
        raise _refuse(f"it is a {peft.get('peft_type')} adapter, not LoRA", config_path)
    for field, is_problem, reason in CONFIG_REFUSALS:
        if is_problem(peft.get(field)):
            raise _refuse(reason.format(value=peft.get(field)), config_path)
    base = load_config(base_dir or adapter_base_dir(adapter_dir, peft, fallback))
    spec = arch_for(base)
    pairs = _lora_pairs(adapter_dir)
    names = {module: _module_tensor_name(spec, base, module, adapter_dir) for module in pairs}
    return _Checked(adapter_dir, peft, base, spec, pairs, names)


def lora_refusal(run_root) -> str | None:
    """Why a run's adapter cannot be exported as a GGUF LoRA (`hearth export --lora`), or None when it can:
    llama.cpp must be able to apply it, and its base must be a local model (the LoRA's own f16 GGUF is made
    from it). For a front end to offer the choice only where it works."""
    run_root = Path(run_root)
    try:
        checked = _check(run_root)
        adapter_base_dir(checked.adapter_dir, checked.peft)  # export_run converts this base, not merged/
    except (UserError, OSError, ValueError) as exc:
        return str(exc)
    return None


def export_lora(adapter_dir, out_path, *, base_dir: Path | None = None) -> LoraExport:
    """Write the PEFT adapter in `adapter_dir` (or a run directory holding `adapter/`) as a GGUF LoRA."""
    checked = _check(Path(adapter_dir), base_dir)
    adapter_dir, out_path, peft = checked.adapter_dir, Path(out_path), checked.peft
    spec, base = checked.spec, checked.base
    alpha = float(peft.get("lora_alpha", peft.get("r", 8)))
    tensors: list[tuple[str, np.ndarray]] = []
    ranks, folded = [], 0
    for module, (a_tensor, b_tensor) in sorted(checked.pairs.items()):
        name = checked.names[module]
        a, b = a_tensor.read(), b_tensor.read()
        rank = a.shape[0]
        factor = _peft_scale(peft, module, rank) / (alpha / rank)
        if not np.isclose(factor, 1.0):
            b = b * np.float32(factor)
            folded += 1
        heads = qk_permutation_heads(spec, base, name)
        if heads is not None:
            b = permute_rows(b, heads)
        tensors += [(f"{name}.lora_a", a), (f"{name}.lora_b", b)]
        ranks.append(rank)
    with atomic_path(out_path) as partial:
        writer = gguf.GGUFWriter(partial, spec.name)
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        writer.add_name(f"{adapter_dir.parent.name}-lora")
        for name, array in tensors:
            writer.add_tensor(name, np.ascontiguousarray(array, dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return LoraExport(out_path, spec.name, alpha, ranks, len(tensors), folded)


def _lora_pairs(adapter_dir: Path) -> dict[str, list]:
    """module name (as in the base model) → [lora_A tensor, lora_B tensor]; anything else is refused."""
    files = sorted(adapter_dir.glob("*.safetensors"))
    if not files:
        raise UserError("no adapter weights (.safetensors) here", where=str(adapter_dir))
    tensors = {(file, name): tensor for file in files for name, tensor in read_header(file).items()}
    for file, name in tensors:
        if "lora_embedding_" in name:
            raise _refuse("it puts LoRA on the token embedding", file)
    pairs: dict[str, list] = {}
    for (file, name), tensor in tensors.items():
        match = LORA_SUFFIX.match(name.removeprefix(PEFT_PREFIX))
        if not match:
            raise _refuse(f"it holds '{name}', which is not a LoRA matrix (full weights are saved)", file)
        pair = pairs.setdefault(match["module"], [None, None])
        pair[0 if match["half"] == "A" else 1] = tensor
    incomplete = [module for module, pair in pairs.items() if None in pair]
    if incomplete:
        raise UserError(f"the adapter lacks lora_A or lora_B for {incomplete[0]}", where=str(adapter_dir))
    return pairs


def _module_tensor_name(spec, base: HFConfig, module: str, where: Path) -> str:
    if module.endswith("lm_head") and base.ties_embeddings:
        raise _refuse("it puts LoRA on the output head, which this model shares with the token embedding", where)
    try:
        return gguf_tensor_name(spec, base["num_hidden_layers"], module + ".weight", where=str(where))
    except UserError:
        raise _refuse(f"module '{module}' has no weight in a '{spec.name}' GGUF file", where) from None


def _pattern_value(patterns: dict, module: str, default):
    """PEFT's rank/alpha patterns: a key matches a module name ending in it (regex, dotted boundary)."""
    for key, value in (patterns or {}).items():
        if re.fullmatch(rf"(.*\.)?({key})", module):
            return value
    return default


def _peft_scale(peft: dict, module: str, rank: int) -> float:
    """The scale PEFT applies to B·A for this module: alpha/r, or alpha/√r with rsLoRA."""
    alpha = float(_pattern_value(peft.get("alpha_pattern"), module, peft.get("lora_alpha", rank)))
    return alpha / (np.sqrt(rank) if peft.get("use_rslora") else rank)
