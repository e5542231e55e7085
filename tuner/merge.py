"""Merge a run's LoRA adapter into a 16-bit (or full-precision) copy of its base model.

Never onto a 4-bit base: a QLoRA run is merged into the base loaded again in 16 bits, which is what
the adapter approximates. The merged directory carries the tokenizer, the chat template and a
generation config whose eos is the template's end-of-turn token, so the exported model stops.
"""

from __future__ import annotations

import torch

from hearth.atomic import atomic_dir
from hearth.errors import UserError
from hearth.paths import RunPaths
from tuner.masking import end_of_turn_token
from hearth.weights import safetensors_files
from tuner.model_loading import local_base, resolve_base
from tuner.recipe import load_recipe

SIXTEEN_BIT = (torch.bfloat16, torch.float16)


def merge_dtype(config) -> torch.dtype:
    """The base checkpoint's own dtype when it is 16- or 32-bit; bfloat16 when it does not say."""
    stored = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    if isinstance(stored, str):
        stored = getattr(torch, stored, None)
    return stored if stored in (*SIXTEEN_BIT, torch.float32) else torch.bfloat16


def merge_run(run: RunPaths) -> str:
    from peft import PeftModel
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    if not (run.adapter / "adapter_config.json").exists():
        raise UserError(f"run {run.root.name} has no adapter yet; train it first (or resume it)", where=str(run.adapter))
    recipe = load_recipe(str(run.recipe))
    base = local_base(resolve_base(recipe.model.base))
    safetensors_files(base)  # weights from safetensors only, the base's and the adapter's
    safetensors_files(run.adapter)
    trust = recipe.model.trust_remote_code
    config = AutoConfig.from_pretrained(base, trust_remote_code=trust)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=merge_dtype(config), trust_remote_code=trust, use_safetensors=True)
    model = PeftModel.from_pretrained(model, str(run.adapter)).merge_and_unload()
    tokenizer = AutoTokenizer.from_pretrained(str(run.adapter))
    eot_id = tokenizer.convert_tokens_to_ids(end_of_turn_token(tokenizer))
    generation = model.generation_config if model.generation_config is not None else GenerationConfig()
    generation.eos_token_id = eot_id
    if generation.pad_token_id is None:
        generation.pad_token_id = tokenizer.pad_token_id
    model.generation_config = generation
    model.config.eos_token_id = eot_id
    with atomic_dir(run.merged) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
    return str(run.merged)
