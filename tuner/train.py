"""LoRA/QLoRA supervised fine-tuning on TRL's SFTTrainer + PEFT.

`run_training` is what the child process `python -m tuner train RUN_DIR` does: read the run's
recipe, load and tokenize the data (assistant-only labels), load the base, build the trainer —
through the fast path on CUDA (tuner/fast) — train with checkpoints, evaluation and early stopping,
and save the adapter atomically. Every step is reported as a JSON-lines event.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hearth.atomic import atomic_dir, write_json
from hearth.events import emit
from hearth.paths import RunPaths
from tuner.data import load_conversations
from tuner.model_loading import load_model, load_tokenizer, lora_config, resolve_base, training_dtype
from tuner.prepare import data_files, prepare
from tuner.progress_events import EventsCallback
from tuner.recipe import Recipe, embedding_warning, load_recipe
from tuner.resume import resume_checkpoint

AUTO_BATCH = {True: 8, False: 4}  # has CUDA -> conversations per device per step


def _batch_size(recipe: Recipe) -> int:
    size = recipe.train.batch_size
    return AUTO_BATCH[torch.cuda.is_available()] if size == "auto" else int(size)


def sft_config(recipe: Recipe, output_dir: Path, has_eval: bool, overrides: dict | None = None):
    from trl import SFTConfig

    dtype = training_dtype(recipe)
    train = recipe.train
    early_stopping = has_eval and train.early_stopping_patience > 0
    kwargs = dict(
        output_dir=str(output_dir),
        num_train_epochs=train.epochs,
        max_steps=train.max_steps,
        learning_rate=train.learning_rate,
        lr_scheduler_type=train.lr_scheduler,
        warmup_steps=train.warmup_steps,
        weight_decay=train.weight_decay,
        per_device_train_batch_size=_batch_size(recipe),
        per_device_eval_batch_size=_batch_size(recipe),
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
        max_length=recipe.data.max_length,
        gradient_checkpointing=False,
        include_num_input_tokens_seen="non_padding",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
    )
    kwargs.update(overrides or {})
    return SFTConfig(**kwargs)


def build_trainer(recipe: Recipe, model, tokenizer, train_dataset, eval_dataset, output_dir: Path, callbacks=()):
    """The SFTTrainer a run uses: plain TRL, or the fast path's trainer/collator where it applies."""
    from peft import get_peft_model
    from transformers import EarlyStoppingCallback

    from tuner.fast.plan import choose_fast_path
    from tuner.fast.trainer import build_sft_trainer

    fast = choose_fast_path(recipe.fast, model, torch.cuda.is_available())
    has_eval = eval_dataset is not None and len(eval_dataset) > 0
    args = sft_config(recipe, output_dir, has_eval, fast.sft_config_overrides)
    callbacks = list(callbacks)
    if args.load_best_model_at_end:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=recipe.train.early_stopping_patience))
    model = get_peft_model(model, lora_config(recipe))
    return build_sft_trainer(
        fast,
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset if has_eval else None,
        processing_class=tokenizer,
        data_collator=fast.data_collator(tokenizer),
        callbacks=callbacks,
    ), fast


OOM_ADVICE = ("out of memory at step {step} ({detail}): lower train.batch_size or data.max_length, set fast.gradient_checkpointing: on, "
              "or use lora.qlora: true; the last checkpoint ({checkpoint}) is intact — resume with `hearth train --resume {run}`")


def run_training(run: RunPaths, resume: bool = False) -> dict:
    from datasets import Dataset

    recipe = load_recipe(str(run.recipe))
    # Chosen before anything loads: a resume that cannot resume is refused at once, and never starts at step 0.
    checkpoint = resume_checkpoint(run, lambda message: emit("warning", message=message)) if resume else None
    warning = embedding_warning(recipe)
    if warning:
        emit("warning", message=warning)
    base = resolve_base(recipe.model.base)
    emit("stage", message=f"loading tokenizer and data (base {base})")
    tokenizer = load_tokenizer(base, recipe)
    data = prepare(load_conversations(data_files(recipe), recipe.data.format), tokenizer, recipe)
    write_json(run.data_report, data.report)
    _write_heldout(run.heldout, data.heldout_messages)
    emit("stage", message=f"{data.report['train_rows']} training and {data.report['eval_rows']} evaluation conversations; "
                          f"{data.report['rows_rejected']} rejected (see {run.data_report})")
    emit("stage", message="loading the base model")
    model = load_model(base, recipe)
    events = EventsCallback(run.metrics)
    events.install_signal_handlers()
    trainer, fast = build_trainer(recipe, model, tokenizer, Dataset.from_list(data.train_rows),
                                  Dataset.from_list(data.eval_rows) if data.eval_rows else None, run.checkpoints, [events])
    emit("stage", message=f"trainer: {fast.describe()}")
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


def _write_heldout(path: Path, conversations: list[list[dict]]) -> None:
    import json

    from hearth.atomic import write_text

    write_text(path, "".join(json.dumps({"messages": m}, ensure_ascii=False) + "\n" for m in conversations))
