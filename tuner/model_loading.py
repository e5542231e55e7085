"""Find and load the base model and tokenizer for training: local first, the hub only when named.

Weights load from safetensors only (`use_safetensors=True`, and a pickle-only directory is refused
before transformers sees it); `trust_remote_code` is passed only when the recipe asks for it.
A hub id is turned into a local directory first (tuner/hub.py), so loading never asks the hub.
QLoRA loads the base in 4-bit NF4 through bitsandbytes, on CUDA only.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hearth.errors import UserError
from hearth.paths import models_dir
from hearth.weights import safetensors_files
from tuner.recipe import Recipe
from tuner.tiny_base import TINY_NAME, ensure_tiny_base

DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def resolve_base(name: str) -> str:
    """A local directory, a model under HEARTH_HOME/models, the built-in tiny one, or a hub id."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise UserError("this directory has no config.json; it is not a Hugging Face model", where=str(path))
        return str(path)
    local = models_dir() / name
    if (local / "config.json").exists():
        return str(local)
    if name == TINY_NAME:
        return str(ensure_tiny_base())
    return name  # a hub id: local_base turns it into a directory (tuner/hub.py, the one place that may download)


def training_dtype(recipe: Recipe) -> torch.dtype:
    if recipe.model.dtype != "auto":
        return DTYPES[recipe.model.dtype]
    if torch.cuda.is_available():
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def local_base(base: str) -> str:
    """The directory to load `base` (what resolve_base returned) from: itself, or a hub id's cached/downloaded copy."""
    if Path(base).is_dir():
        return base
    from tuner.hub import hub_model_dir

    return str(hub_model_dir(base))


def _from_pretrained(loader, base: str, *, weights: bool = False, **kwargs):
    source = local_base(base)
    if weights:
        safetensors_files(source)  # one line naming the directory, not transformers' pickle fallback
    try:
        return loader.from_pretrained(source, **kwargs)
    except OSError as exc:
        raise UserError(f"cannot load base model '{base}' from {source}: {str(exc).strip().splitlines()[0]}") from None


def load_tokenizer(base: str, recipe: Recipe):
    from transformers import AutoTokenizer

    tokenizer = _from_pretrained(AutoTokenizer, base, trust_remote_code=recipe.model.trust_remote_code)
    if recipe.model.chat_template:
        tokenizer.chat_template = recipe.model.chat_template
    if not tokenizer.chat_template:
        raise UserError(f"the tokenizer of '{base}' has no chat template; set model.chat_template in the recipe")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def quantization_config(recipe: Recipe):
    if not recipe.lora.qlora:
        return None
    if not torch.cuda.is_available():
        raise UserError("lora.qlora needs a CUDA GPU (bitsandbytes 4-bit); on this machine set lora.qlora: false")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise UserError("lora.qlora needs the bitsandbytes package: pip install 'hearth[cuda]'") from None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=training_dtype(recipe))


def load_model(base: str, recipe: Recipe):
    from transformers import AutoModelForCausalLM

    quant = quantization_config(recipe)
    kwargs = dict(dtype=training_dtype(recipe), attn_implementation=recipe.model.attn_implementation,
                  trust_remote_code=recipe.model.trust_remote_code, use_safetensors=True)
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": torch.cuda.current_device()})
    # No prepare_model_for_kbit_training for QLoRA: its fp32 upcast of norms, embeddings and head costs
    # ~4 GB on 7B and slows every step, and bf16 LoRA on an NF4 base trains the same (see docs/benchmarks.md).
    return _from_pretrained(AutoModelForCausalLM, base, weights=True, **kwargs)


def lora_config(recipe: Recipe):
    from peft import LoraConfig

    lora = recipe.lora
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=list(lora.target_modules),
                      use_rslora=lora.use_rslora, use_dora=lora.use_dora, modules_to_save=list(lora.modules_to_save) or None,
                      bias="none", task_type="CAUSAL_LM")
