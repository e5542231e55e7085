"""`FastSFTTrainer`: TRL's SFTTrainer with packed token-budget batches and the chunked loss.

Everything TRL does around the step (optimizer, schedule, logging, checkpoints, evaluation, PEFT,
accelerate) is unchanged. What changes:
- the training/eval data loaders yield packs of whole conversations up to a token budget
  (`packing.py`), the budget found by probing the GPU (`token_budget.py`);
- the loss is the same token-mean cross-entropy as TRL's (sum over target tokens divided by the
  number of target tokens in the optimizer step), computed by `head.py` without logits;
- metrics stay on the GPU until a log line is written, so no step waits on a `.item()`;
- attention runs per conversation (`attention.py`), Liger's fused layers when installed, and
  activation checkpointing only when memory needs it and a timed probe step shows it pays.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from accelerate.utils import DistributedType
from torch.utils.data import DataLoader
from trl import SFTTrainer

from hearth.events import emit
from tuner.fast.attention import ATTENTION_NAME, register_varlen_attention
from tuner.fast.cpu_bf16 import cpu_bf16_autocast, frozen_projections_to_bf16
from tuner.fast.compiled_layers import compile_decoder_layers, uncompile_decoder_layers
from tuner.fast.fused_lora import forget_last_cast, install_fused_lora
from tuner.fast.head import install_chunked_head
from tuner.fast.lean_steps import install_lean_train_mode, install_lean_zero_grad, trainable_parameters
from tuner.fast.packing import PackedCollator, TokenBudgetBatchSampler
from tuner.fast.plan import FastPath, is_four_bit
from tuner.fast.token_budget import (
    BudgetChoice,
    faster_choice,
    fit_token_budget,
    memory_limit_bytes,
    probe_peak,
    probe_peak_rss,
    release_memory,
    time_step,
)

# The CPU's ceiling on tokens per micro-step: a core multiplies 512 rows as fast per row as 2048
# (87-92 GFLOPS either way, measured), so larger steps only cost memory: ~2.9 MB a token without
# checkpointing on SmolLM2-135M in fp32 (docs/benchmarks.md).
CPU_TOKEN_BUDGET = 512
OPTIMIZER_BYTES_PER_TRAINABLE = 12  # AdamW's two fp32 moments + slack; grads are in the probe's peak


def _causal_lm(model: torch.nn.Module) -> torch.nn.Module:
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _set_checkpointing(model: torch.nn.Module, on: bool) -> None:
    if on:
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    else:
        disable = getattr(model, "activation_checkpointing_disable", None) or model.gradient_checkpointing_disable
        disable()


def half_frozen_fp32_params(model: torch.nn.Module, dtype: torch.dtype) -> int:
    """Bring the frozen fp32 weights of a 4-bit model (norms, embeddings, head: PEFT's k-bit
    preparation upcasts them) back to the step's half precision, as in bf16 LoRA: otherwise every
    activation downstream of a norm is fp32, attention falls off the FlashAttention kernel, and
    the fp32 embeddings and head cost 4 GB on a 7B model. Returns how many tensors changed."""
    changed = 0
    for param in model.parameters():
        if not param.requires_grad and param.dtype == torch.float32:
            param.data = param.data.to(dtype)
            changed += 1
    return changed


def apply_liger_kernels(causal_lm: torch.nn.Module) -> None:
    """Liger's fused RMSNorm, RoPE and SwiGLU on this model (its loss kernels stay off: ours runs)."""
    from liger_kernel.transformers.monkey_patch import _apply_liger_kernel_to_instance

    _apply_liger_kernel_to_instance(
        model=causal_lm, rope=True, rms_norm=True, swiglu=True, cross_entropy=False, fused_linear_cross_entropy=False
    )


def _root_cause(error: BaseException) -> str:
    """The innermost exception in one line: compiler errors wrap the real one ("backend raised:")."""
    while (inner := getattr(error, "inner_exception", None) or error.__cause__) is not None:
        error = inner
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__


def build_sft_trainer(path: FastPath, **kwargs) -> SFTTrainer:
    """TRL's own SFTTrainer when the fast path is off, else the fast one, handed its plan."""
    return FastSFTTrainer(fast_path=path, **kwargs) if path.enabled else SFTTrainer(**kwargs)


class FastSFTTrainer(SFTTrainer):
    def __init__(self, *args, fast_path: FastPath, **kwargs):
        self.fast_path = fast_path  # first: SFTTrainer's own __init__ already calls methods overridden here
        super().__init__(*args, **kwargs)
        path = self.fast_path
        causal_lm = _causal_lm(self.model)
        if path.attention == ATTENTION_NAME:
            register_varlen_attention()
        if path.attention:
            causal_lm.set_attn_implementation(path.attention)
        if is_four_bit(causal_lm) and (self.args.bf16 or self.args.fp16):
            half_frozen_fp32_params(self.model, torch.bfloat16 if self.args.bf16 else torch.float16)
        if path.liger:
            apply_liger_kernels(causal_lm)
        if path.fused_lora:
            install_fused_lora(self.model)
        if path.cpu_bf16:
            frozen_projections_to_bf16(self.model)
        if path.chunked_loss:
            install_chunked_head(causal_lm, path.settings.loss_chunk_tokens)
        if path.checkpointing:
            _set_checkpointing(self.model, True)
        if path.compile:
            compile_decoder_layers(causal_lm)
        if path.packing and not isinstance(self.data_collator, PackedCollator):
            pad = self.processing_class.pad_token_id
            pad = pad if pad is not None else 0
            self.data_collator = PackedCollator(pad_token_id=pad, target_positions=path.chunked_loss)
        self._trainable = trainable_parameters(self.model)
        install_lean_train_mode(self.model)
        install_lean_zero_grad(self.model, self._trainable)
        self._flops_per_token: int | None = None
        self.budget_choice: BudgetChoice | None = None
        self._fast_sums = {mode: defaultdict(lambda: torch.zeros((), dtype=torch.long)) for mode in ("train", "eval")}

    # ----- data: packs of whole conversations up to the token budget -----

    @property
    def token_budget(self) -> int | None:
        """Tokens per micro-step, once settled (kept on the fast path, which the run log describes)."""
        return self.fast_path.token_budget

    def _lengths(self, dataset) -> list[int]:
        return [len(ids) for ids in dataset["input_ids"]]

    def _packed_loader(self, dataset, budget: int, shuffle: bool) -> DataLoader:
        sampler = TokenBudgetBatchSampler(self._lengths(dataset), budget, shuffle=shuffle, seed=self.args.seed)
        loader = DataLoader(
            dataset,
            batch_sampler=sampler,
            collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers,
            pin_memory=self.args.dataloader_pin_memory,
        )
        return self.accelerator.prepare(loader)

    def get_train_dataloader(self) -> DataLoader:
        if not self.fast_path.packing:
            return super().get_train_dataloader()
        lengths = self._lengths(self.train_dataset)
        if self.token_budget is None:
            self._first_compiled_step(max(lengths, default=1))
            self.fast_path.token_budget = self._resolve_budget(lengths)
            emit("stage", message=f"trainer settled: {self.fast_path.describe()}")
        return self._packed_loader(self.train_dataset, self.token_budget, shuffle=True)

    def get_eval_dataloader(self, eval_dataset=None) -> DataLoader:
        if not self.fast_path.packing:
            return super().get_eval_dataloader(eval_dataset)
        dataset = eval_dataset if eval_dataset is not None else self.eval_dataset
        if isinstance(dataset, str):
            dataset = self.eval_dataset[dataset]
        lengths = self._lengths(dataset)
        budget = self.token_budget or max(CPU_TOKEN_BUDGET, max(lengths, default=1))
        return self._packed_loader(dataset, max(budget, max(lengths, default=1)), shuffle=False)

    # ----- compiling -----

    def _first_compiled_step(self, row_length: int) -> None:
        """Compile the layers now, so a failure shows before training starts: with compile "auto"
        the layers go back to eager and the run log says why; "on" stops. One small pack of a few
        conversations (a pack of one would compile a graph specialised to one conversation), plus
        an evaluation forward when the run evaluates, so no new variant compiles mid-run."""
        path = self.fast_path
        if not path.compile:
            return
        emit("stage", message="compiling the decoder layers (a minute or two the first time; cached on disk after)")
        try:
            self._probe_step(4 * min(row_length, 64), min(row_length, 64))
            if self.eval_dataset is not None:
                self._probe_step(4 * min(row_length, 64), min(row_length, 64), train=False)
        except torch.OutOfMemoryError:
            raise
        except Exception as error:
            if not path.compile_fallback:
                raise
            uncompile_decoder_layers(_causal_lm(self.model))
            path.compile = False
            path.notes.append(f"torch.compile failed ({_root_cause(error)}): layers run eagerly")

    # ----- the token budget -----

    def _budget_ceiling(self, lengths: list[int]) -> int:
        """Cap so an epoch keeps `min_steps_per_epoch` optimizer steps (never below the longest row)."""
        settings = self.fast_path.settings
        world = self.accelerator.num_processes
        per_step = max(1, settings.min_steps_per_epoch * self.args.gradient_accumulation_steps * world)
        largest = settings.max_token_budget if torch.cuda.is_available() else min(settings.max_token_budget,
                                                                                  CPU_TOKEN_BUDGET)
        return max(max(lengths, default=1), min(largest, sum(lengths) // per_step))

    def _resolve_budget(self, lengths: list[int]) -> int:
        settings = self.fast_path.settings
        longest = max(lengths, default=1)
        if isinstance(settings.token_budget, int):
            budget = max(settings.token_budget, longest)
        else:
            budget = self._probe_budget(lengths)
        if self.accelerator.num_processes > 1:  # every rank must take the same number of packs
            shared = torch.tensor([budget], device=self.accelerator.device)
            budget = int(self.accelerator.gather(shared).min())
        return budget

    def _probe_budget(self, lengths: list[int]) -> int:
        """The largest budget whose probe step peaks under the memory limit: the GPU's allocated
        bytes there, this process's resident memory on the CPU (at most half of the free RAM). On
        the CPU the probes start at one longest row: each costs a real step there."""
        on_gpu = torch.cuda.is_available()
        emit("stage", message="finding the largest token budget that fits "
                              + ("the GPU's free memory" if on_gpu else "in half of the free RAM"))
        settings = self.fast_path.settings
        longest = max(lengths)
        ceiling = self._budget_ceiling(lengths)
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        limit = memory_limit_bytes(
            settings.memory_fraction, settings.memory_limit_gib, trainable * OPTIMIZER_BYTES_PER_TRAINABLE
        )
        smallest = min(ceiling, max(2 * longest, 1024) if on_gpu else longest)
        probe = probe_peak if on_gpu else probe_peak_rss

        def step(budget: int) -> None:
            self._probe_step(budget, longest)

        def fit() -> BudgetChoice | None:
            return fit_token_budget(step, limit_bytes=limit, smallest=smallest, largest=ceiling, probe=probe)

        path = self.fast_path
        if path.checkpointing is None:  # auto: off if the ceiling fits without it, else the faster of the two
            _set_checkpointing(self.model, False)
            choice = fit()
            if choice is None or choice.budget < ceiling:
                _set_checkpointing(self.model, True)
                checkpointed = fit()
                if checkpointed is not None:
                    checkpointed.checkpointing = True
                choice = faster_choice(choice, checkpointed, self._seconds_per_step(longest))
            path.checkpointing = bool(choice and choice.checkpointing)
            _set_checkpointing(self.model, path.checkpointing)
            if choice is not None and choice.tokens_per_s:
                path.notes.append(f"checkpointing {'on' if path.checkpointing else 'off'}: measured faster "
                                  f"({choice.tokens_per_s:,.0f} probe tokens/s at {choice.budget} tokens)")
        else:
            choice = fit()
            if choice is not None:
                choice.checkpointing = path.checkpointing
        if choice is None:
            where = "GPU memory" if on_gpu else "half of the free RAM"
            advice = ("set fast.gradient_checkpointing to auto or on" if path.settings.gradient_checkpointing == "off"
                      else "lower the recipe's max length, use QLoRA, or free the GPU" if on_gpu
                      else "lower the recipe's max length or close other programs")
            raise torch.OutOfMemoryError(f"a step of {smallest} tokens does not fit in {where}; {advice}")
        self.budget_choice = choice
        return max(choice.budget, longest)

    def _seconds_per_step(self, row_length: int):
        """Times a probe step at a choice's budget with that choice's checkpointing switched on or off."""

        def seconds(choice: BudgetChoice) -> float:
            if choice.seconds is not None and not torch.cuda.is_available():
                return choice.seconds  # the CPU has no kernels to warm up: the probe's own time holds
            _set_checkpointing(self.model, choice.checkpointing)
            return time_step(lambda budget: self._probe_step(budget, row_length, release=False), choice.budget)

        return seconds

    def _probe_step(self, budget: int, row_length: int, train: bool = True, release: bool = True) -> None:
        """One forward+backward on a worst-case pack: full-length rows, every position a target
        (`train=False`: one forward as evaluation runs it, in eval mode without gradients)."""
        vocab = self.model.config.vocab_size if hasattr(self.model, "config") else 1000
        generator = torch.Generator().manual_seed(budget)
        rows, left = [], budget
        while left > 0:
            size = min(row_length, left)
            ids = torch.randint(0, vocab, (size,), generator=generator).tolist()
            rows.append({"input_ids": ids, "labels": ids})
            left -= size
        pad = self.processing_class.pad_token_id if self.processing_class is not None else 0
        collate = PackedCollator(pad_token_id=pad or 0, target_positions=self.fast_path.chunked_loss)
        inputs = self._prepare_inputs(collate(rows))
        self.model.train(train)
        try:
            with self.compute_loss_context_manager(), torch.set_grad_enabled(train):
                loss = self.compute_loss(self.model, inputs)
            if train:
                loss.backward()
        finally:
            self.model.train()
            self.model.zero_grad(set_to_none=True)
            self._fast_sums["train" if train else "eval"].clear()
            if release:
                release_memory()

    # ----- the loss -----

    def compute_loss_context_manager(self):
        """Training, evaluation and the probes all enter here: the CPU's bf16 autocast goes on top."""
        stack = super().compute_loss_context_manager()
        if self.fast_path.cpu_bf16:
            stack.enter_context(cpu_bf16_autocast())
            stack.callback(forget_last_cast)
        return stack

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not self.fast_path.chunked_loss or return_outputs:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        mode = "train" if self.model.training else "eval"
        outputs = model(**inputs, hearth_loss=True)
        denominator = outputs.num_tokens if num_items_in_batch is None else num_items_in_batch
        loss = outputs.loss_sum / torch.as_tensor(denominator, device=outputs.loss_sum.device).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())
        sums = self._fast_sums[mode]
        device = outputs.num_tokens.device
        sums["targets"] = sums["targets"].to(device) + outputs.num_tokens.detach()
        sums["correct"] = sums["correct"].to(device) + outputs.num_correct.detach()
        if mode == "train":
            self._total_train_tokens += inputs["input_ids"].numel() * self.accelerator.num_processes
        return loss

    # ----- per-step bookkeeping without whole-model walks (lean_steps.py) -----

    def floating_point_ops(self, inputs) -> int:
        if self._flops_per_token is None:  # the base class counts every parameter again each step
            self._flops_per_token = super().floating_point_ops({"input_ids": torch.zeros(1, 1, dtype=torch.long)})
        return self._flops_per_token * inputs["input_ids"].numel()

    def _clip_grad_norm(self, model):
        if self.accelerator.distributed_type in (DistributedType.NO, DistributedType.MULTI_GPU):
            return self.accelerator.clip_grad_norm_(self._trainable, self.args.max_grad_norm)
        return super()._clip_grad_norm(model)  # FSDP/DeepSpeed clip through their own wrappers

    def _track_num_input_tokens(self, inputs) -> None:
        """A pack has no padding, so its length is its token count: no need to ask the GPU (the
        base class sums a device tensor and reads it back, a stall at every step)."""
        if not self.fast_path.packing or self.accelerator.num_processes > 1:
            return super()._track_num_input_tokens(inputs)
        if self.args.include_num_input_tokens_seen != "no":
            self.state.num_input_tokens_seen += inputs["input_ids"].numel()

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        mode = "train" if self.model.training else "eval"
        sums = self._fast_sums[mode]
        if self.fast_path.chunked_loss and "targets" in sums:
            targets = self.accelerator.gather_for_metrics(sums["targets"]).sum()
            correct = self.accelerator.gather_for_metrics(sums["correct"]).sum()
            self._metrics[mode]["mean_token_accuracy"] = [(correct / targets.clamp(min=1)).item()]
            if mode == "train":
                self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            sums.clear()
        super().log(logs, start_time)
