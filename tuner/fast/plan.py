"""Which parts of the fast path run for this recipe on this machine, decided in one place.

`choose_fast_path(settings, model, has_cuda)` returns a `FastPath`: what the trainer (`tuner/fast/trainer.py`) receives,
the collator, the SFTConfig fields to override, and a one-line description for the run log.
With the fast path off it returns TRL's own `SFTTrainer` and no overrides, so the plain trainer
is exactly what it would be without this package.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field

import torch
from trl import SFTTrainer

from hearth.errors import UserError
from tuner.fast.attention import ATTENTION_NAME, varlen_kernel_available
from tuner.fast.cpu_bf16 import wants_cpu_bf16
from tuner.fast.packing import PackedCollator
from tuner.fast.settings import FastSettings

# Model families whose decoder layers the Liger kernels know (liger-kernel's own table is larger;
# these are the ones hearth's recipes use and the benchmark checked).
LIGER_MODEL_TYPES = ("qwen2", "llama", "mistral", "qwen3")


def liger_installed() -> bool:
    return importlib.util.find_spec("liger_kernel") is not None


def _switch(value: str) -> bool | None:
    """"on" -> True, "off" -> False, "auto" -> None (decided later or by the device)."""
    return {"on": True, "off": False, "auto": None}[value]


def is_four_bit(model: torch.nn.Module) -> bool:
    """A bitsandbytes 4-bit base (QLoRA), whether or not PEFT wraps it yet."""
    return getattr(model, "is_loaded_in_4bit", False) or any(
        type(module).__name__ == "Linear4bit" for module in model.modules()
    )


def _uses_sliding_window(config) -> bool:
    return "sliding_attention" in (getattr(config, "layer_types", None) or ()) or bool(
        getattr(config, "use_sliding_window", False)
    )


@dataclass
class FastPath:
    enabled: bool
    settings: FastSettings
    packing: bool = False
    chunked_loss: bool = False
    attention: str | None = None  # attn_implementation to set, or None to leave the model's
    liger: bool = False
    checkpointing: bool | None = None  # None: decided by the token-budget probe
    fused_lora: bool = False
    compile: bool = False
    cpu_bf16: bool = False  # the step under bf16 autocast on the CPU (tuner/fast/cpu_bf16.py)
    token_budget: int | None = None  # tokens per micro-step, once the trainer has settled it
    notes: list[str] = field(default_factory=list)

    @property
    def compile_fallback(self) -> bool:
        """With compile "auto" a failed compile falls back to eager layers; with "on" it stops the run."""
        return self.settings.compile == "auto"

    def data_collator(self, tokenizer):
        """The collator for the trainer, or None to keep TRL's padding collator."""
        if not (self.enabled and self.packing):
            return None
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        return PackedCollator(pad_token_id=pad, target_positions=self.chunked_loss)

    @property
    def sft_config_overrides(self) -> dict:
        if not self.enabled:
            return {}
        overrides = {
            # A NaN check on every micro-step forces a GPU sync; the loss is still logged as is.
            "logging_nan_inf_filter": False,
            # Packs replace TRL's own padding-free/packing modes.
            "packing": False,
            "padding_free": False,
        }
        # Activation checkpointing is switched on the model by the trainer (after the token-budget
        # probe for "auto"), so the config keeps it off and TRL does not wrap the model for it.
        return overrides

    def describe(self) -> str:
        if not self.enabled:
            return "fast path off: plain TRL trainer"
        parts = [
            f"packing {'on' if self.packing else 'off'} (budget {self.token_budget or self.settings.token_budget})",
            f"chunked loss {'on' if self.chunked_loss else 'off'}",
            f"attention {self.attention or 'model default'}",
            f"liger {'on' if self.liger else 'off'}",
            f"fused LoRA {'on' if self.fused_lora else 'off'}",
            "checkpointing " + {True: "on", False: "off", None: "auto"}[self.checkpointing],
            f"compile {'on' if self.compile else 'off'}",
            *(["CPU bf16 autocast on"] if self.cpu_bf16 else []),
        ]
        return "fast path: " + ", ".join(parts) + "".join(f"; {note}" for note in self.notes)


def choose_fast_path(settings: FastSettings, model: torch.nn.Module, has_cuda: bool) -> FastPath:
    enabled = settings.enabled != "off"  # "auto" and "on" alike: the CPU gains from packing and the chunked loss too
    if not enabled:
        return FastPath(enabled=False, settings=settings)
    config = model.config
    path = FastPath(enabled=True, settings=settings, packing=settings.packing, chunked_loss=settings.chunked_loss)
    path.checkpointing = _switch(settings.gradient_checkpointing)  # auto: the memory probe decides, on CPU too
    wants_compile = _switch(settings.compile)
    # 4-bit layers are left eager: bitsandbytes' kernels inside a compiled layer are not yet measured.
    path.compile = (has_cuda and not is_four_bit(model)) if wants_compile is None else wants_compile
    path.fused_lora = settings.fused_lora
    path.cpu_bf16 = wants_cpu_bf16(settings.cpu_bf16, getattr(model, "dtype", torch.float32), has_cuda)

    if settings.packing and settings.attention == "auto" and not _uses_sliding_window(config):
        path.attention = ATTENTION_NAME
        if has_cuda and not varlen_kernel_available():
            path.notes.append("this PyTorch has no FlashAttention varlen kernel: packed attention runs per conversation")
    elif settings.packing:
        path.attention = "sdpa"  # transformers builds the block mask from the restarting position ids

    wants_liger = _switch(settings.liger)
    liger_fits = has_cuda and liger_installed() and getattr(config, "model_type", "") in LIGER_MODEL_TYPES
    if wants_liger is True and not liger_fits:
        raise UserError(
            "needs CUDA, the liger-kernel package (pip install liger-kernel) and a Qwen2/Llama/Mistral model; "
            "set it to auto or off",
            where="recipe fast.liger",
        )
    # A compiled layer fuses norms, RoPE and SwiGLU itself; Liger's kernels would be opaque to it.
    path.liger = (liger_fits and not path.compile) if wants_liger is None else wants_liger
    return path
