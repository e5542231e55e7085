"""The `fast:` section of a recipe: which parts of the fast path are on (CPU and CUDA).

Every part can be turned off on its own, so a user who suspects the fast path can fall back one
piece at a time. None of them changes what the model learns: packing keeps each conversation's
attention and positions to itself, and the chunked loss is the same mean cross-entropy over the
same assistant tokens (see tests/tuner/fast/test_trainer.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from hearth.errors import UserError

SWITCH_VALUES = ("auto", "on", "off")  # YAML's bare on/off (booleans) are accepted too


@dataclass
class FastSettings:
    enabled: str | bool = "auto"
    """"auto"/"on": the fast path, on CPU too (packing, the chunked loss and fused LoRA pay there:
    bench/cpu_train_speed.py); its GPU parts (compiled layers, FlashAttention varlen, Liger) only
    where CUDA is. "off": the plain TRL trainer, exactly as without this section."""

    packing: bool = True
    """Padding-free packing: conversations are laid end to end in one row up to `token_budget`
    tokens; position ids restart at 0 for each conversation and attention stays inside it."""

    token_budget: int | str = "auto"
    """Tokens per micro-step when packing. "auto" probes steps on the longest packs and keeps the
    largest budget that fits the GPU's free memory (backing off on out-of-memory), or on the CPU
    this process's resident memory within half of the free RAM. An integer fixes it."""

    max_token_budget: int = 32768
    """Ceiling for the "auto" budget: more tokens per step past this stop paying and make
    optimizer steps too few on small data sets. On the CPU the ceiling is lower still
    (`tuner.fast.trainer.CPU_TOKEN_BUDGET`): its matrix products gain nothing from larger steps."""

    memory_fraction: float = 0.85
    """Share of the GPU's free memory the "auto" budget may plan to fill (on the CPU: of the free
    RAM, and never more than half of it)."""

    memory_limit_gib: float | None = None
    """Optional hard ceiling (GiB of GPU memory; resident GiB on the CPU) for the "auto" budget,
    below the free memory: for sharing a machine, or to show the run fits a smaller one."""

    min_steps_per_epoch: int = 16
    """The "auto" budget is capped so one epoch still has at least this many optimizer steps:
    a huge budget on a small data set would leave too few updates to learn from."""

    chunked_loss: bool = True
    """Cross-entropy on the assistant positions only, computed through the output head in chunks,
    so the [tokens, vocabulary] logits (151k columns for Qwen) never exist all at once."""

    loss_chunk_tokens: int = 1024
    """Positions per loss chunk: each chunk holds [loss_chunk_tokens, vocabulary] logits in fp32
    (about 600 MB for Qwen's 151,936-token vocabulary at 1024)."""

    attention: str = "auto"
    """"auto": FlashAttention varlen kernels (through PyTorch) on CUDA when packing, so packed
    conversations cost only their own attention; "sdpa": transformers' SDPA with a block mask."""

    gradient_checkpointing: str | bool = "auto"
    """"auto": off when the largest budget fits without it; otherwise the token-budget probe fits a
    budget each way and times a step of each, and the one with more tokens per second wins (more
    tokens per step against a second forward pass). "on"/"off" force it."""

    liger: str | bool = "auto"
    """Liger kernels (fused RMSNorm, RoPE, SwiGLU) when the liger-kernel package is installed:
    "auto" uses them on CUDA if importable, "on" requires them, "off" never."""

    fused_lora: bool = True
    """Each LoRA layer's dropout, A, B and add as one autograd function in the step's precision,
    instead of PEFT's separate modules with fp32 copies (same result, fewer kernels, less memory)."""

    compile: str | bool = "auto"
    """torch.compile each decoder layer: elementwise work fused, one guarded call per layer instead
    of thousands of small kernels launched through Python. "auto": on CUDA for bf16/fp16 models
    (not 4-bit ones), falling back to eager if compiling fails; "on"/"off" force it. Costs a
    compile of about a minute at the start of a run (cached on disk for the next one)."""

    cpu_bf16: str | bool = "auto"
    """On a CPU with a fp32 model: the step's matrix products (linear layers, attention, the loss's head)
    in bf16 under autocast, weights, norms, softmax and optimizer in fp32 (tuner/fast/cpu_bf16.py).
    2-3x faster products where the CPU has AVX-512 BF16 or AMX; the loss stays close to fp32's, not
    bit-equal. "auto": on where the CPU multiplies bf16 natively; "on" forces it (emulated, slower,
    elsewhere); "off": fp32 throughout. No effect on CUDA, where `model.dtype` decides."""

    def __post_init__(self) -> None:
        for name in ("enabled", "gradient_checkpointing", "liger", "compile", "cpu_bf16"):
            value = getattr(self, name)
            if isinstance(value, bool):  # YAML reads a bare on/off as a boolean
                value = "on" if value else "off"
                setattr(self, name, value)
            if value not in SWITCH_VALUES:
                raise UserError(
                    f"must be one of {', '.join(SWITCH_VALUES)}, not {value!r}", where=f"recipe fast.{name}"
                )
        budget = self.token_budget
        if not (budget == "auto" or (isinstance(budget, int) and not isinstance(budget, bool) and budget >= 64)):
            raise UserError(
                f"must be \"auto\" or a whole number of tokens of at least 64, not {budget!r}",
                where="recipe fast.token_budget",
            )
        if self.loss_chunk_tokens < 16:
            raise UserError("must be at least 16", where="recipe fast.loss_chunk_tokens")
        if not 0.1 <= self.memory_fraction <= 0.98:
            raise UserError("must be between 0.1 and 0.98", where="recipe fast.memory_fraction")
        if self.attention not in ("auto", "sdpa"):
            raise UserError(f"must be auto or sdpa, not {self.attention!r}", where="recipe fast.attention")
        if self.memory_limit_gib is not None and self.memory_limit_gib <= 0:
            raise UserError("must be a positive number of GiB", where="recipe fast.memory_limit_gib")
        if self.min_steps_per_epoch < 1:
            raise UserError("must be at least 1", where="recipe fast.min_steps_per_epoch")
        if self.max_token_budget < 64:
            raise UserError("must be at least 64", where="recipe fast.max_token_budget")
