"""What every training method shares around its TRL trainer: the arguments every trainer takes from a recipe,
and the run itself — train (or resume), turn out-of-memory into one sentence, stop cleanly on cancel, save the
adapter atomically. SFT (tuner/train.py) and DPO/KTO (tuner/preference/train.py) differ only in the trainer.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hearth.atomic import atomic_dir
from hearth.paths import RunPaths
from tuner.model_loading import training_dtype
from tuner.recipe import Recipe

AUTO_BATCH = {True: 8, False: 4}  # has CUDA -> conversations per device per step


def batch_size(recipe: Recipe) -> int:
    size = recipe.train.batch_size
    return AUTO_BATCH[torch.cuda.is_available()] if size == "auto" else int(size)


def training_arguments(recipe: Recipe, output_dir: Path, has_eval: bool) -> dict:
    """The transformers TrainingArguments a recipe sets, for any TRL config class (SFTConfig, DPOConfig, KTOConfig)."""
    dtype = training_dtype(recipe)
    train = recipe.train
    early_stopping = has_eval and train.early_stopping_patience > 0
    return dict(
        output_dir=str(output_dir),
        num_train_epochs=train.epochs,
        max_steps=train.max_steps,
        learning_rate=train.learning_rate,
        lr_scheduler_type=train.lr_scheduler,
        warmup_steps=train.warmup_steps,
        weight_decay=train.weight_decay,
        per_device_train_batch_size=batch_size(recipe),
        per_device_eval_batch_size=batch_size(recipe),
        gradient_accumulation_steps=train.gradient_accumulation,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=train.eval_steps,
        save_strategy="steps",
        save_steps=train.save_steps,
        save_total_limit=train.save_total_limit,
        load_best_model_at_end=early_stopping,
        metric_for_best_model="eval_loss" if early_stopping else None,
        greater_is_better=False if early_stopping else None,
        logging_steps=train.logging_steps,
        seed=train.seed,
        optim=train.optimizer,
        bf16=dtype == torch.bfloat16,
        fp16=dtype == torch.float16,
        gradient_checkpointing=False,
        include_num_input_tokens_seen="non_padding",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
    )


def early_stopping_callbacks(recipe: Recipe, args) -> list:
    from transformers import EarlyStoppingCallback

    if not args.load_best_model_at_end:
        return []
    return [EarlyStoppingCallback(early_stopping_patience=recipe.train.early_stopping_patience)]


OOM_ADVICE = ("out of memory at step {step} ({detail}): lower train.batch_size or data.max_length, set fast.gradient_checkpointing: on, "
              "or use lora.qlora: true; the last checkpoint ({checkpoint}) is intact — resume with `hearth train --resume {run}`")


def train_and_save(trainer, run: RunPaths, tokenizer, events, checkpoint: Path | None) -> dict:
    """Train from scratch or from `checkpoint`; on cancel keep the checkpoint the callback saved, else save the
    adapter (and tokenizer) whole or not at all. Returns the `done` event's fields."""
    try:
        result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except torch.cuda.OutOfMemoryError as exc:
        detail = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else "CUDA"
        raise MemoryError(OOM_ADVICE.format(step=trainer.state.global_step, detail=detail,
                                            checkpoint=run.latest_checkpoint() or "none yet", run=run.root.name)) from None
    if events.cancelled:
        return {"cancelled": True, "step": trainer.state.global_step, "checkpoint": str(run.latest_checkpoint())}
    if trainer.is_world_process_zero():  # under DDP every rank holds the same adapter
        with atomic_dir(run.adapter) as tmp:
            trainer.model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
    return {"adapter": str(run.adapter), "step": trainer.state.global_step, "train_loss": result.training_loss,
            "best_eval_loss": trainer.state.best_metric}


def write_heldout(path: Path, conversations: list[list[dict]]) -> None:
    """The held-out conversations as `messages` rows: what `hearth eval` scores and answers."""
    from hearth.jsonl import write_rows

    write_rows(path, ({"messages": m} for m in conversations))
