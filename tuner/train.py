"""LoRA/QLoRA supervised fine-tuning on TRL's SFTTrainer + PEFT (DPO/KTO runs go on to tuner/preference).

`run_training` is what the child process `python -m tuner train RUN_DIR` does: read the run's
recipe, load and tokenize the data (assistant-only labels), load the base, build the trainer —
through the fast path on CUDA (tuner/fast) — train with checkpoints, evaluation and early stopping,
and save the adapter atomically. Every step is reported as a JSON-lines event.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hearth.atomic import write_json
from hearth.events import emit
from hearth.paths import RunPaths
from tuner.data import load_conversations
from tuner.model_loading import load_model, load_tokenizer, lora_config, resolve_base
from tuner.prepare import data_files, prepare
from tuner.progress_events import EventsCallback
from tuner.recipe import Recipe, embedding_warning, load_recipe
from tuner.resume import resume_checkpoint
from tuner.trainer_run import early_stopping_callbacks, train_and_save, training_arguments, write_heldout


def sft_config(recipe: Recipe, output_dir: Path, has_eval: bool, overrides: dict | None = None):
    from trl import SFTConfig

    kwargs = training_arguments(recipe, output_dir, has_eval)
    kwargs["max_length"] = recipe.data.max_length
    kwargs.update(overrides or {})
    return SFTConfig(**kwargs)


def build_trainer(recipe: Recipe, model, tokenizer, train_dataset, eval_dataset, output_dir: Path, callbacks=()):
    """The SFTTrainer a run uses: plain TRL, or the fast path's trainer/collator where it applies."""
    from peft import get_peft_model

    from tuner.fast.plan import choose_fast_path
    from tuner.fast.trainer import build_sft_trainer

    fast = choose_fast_path(recipe.fast, model, torch.cuda.is_available())
    has_eval = eval_dataset is not None and len(eval_dataset) > 0
    args = sft_config(recipe, output_dir, has_eval, fast.sft_config_overrides)
    callbacks = [*callbacks, *early_stopping_callbacks(recipe, args)]
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


def run_training(run: RunPaths, resume: bool = False) -> dict:
    """The run's training by its recipe's method: SFT here, DPO/KTO in tuner/preference."""
    recipe = load_recipe(str(run.recipe))
    if recipe.train.method != "sft":
        from tuner.preference.train import run_preference_training

        return run_preference_training(run, recipe, resume)
    return _run_sft(run, recipe, resume)


def _run_sft(run: RunPaths, recipe: Recipe, resume: bool) -> dict:
    from datasets import Dataset

    # Chosen before anything loads: a resume that cannot resume is refused at once, and never starts at step 0.
    checkpoint = resume_checkpoint(run, lambda message: emit("warning", message=message)) if resume else None
    warning = embedding_warning(recipe)
    if warning:
        emit("warning", message=warning)
    base = resolve_base(recipe.model.base)
    emit("stage", message=f"loading tokenizer and data (base {base})")
    tokenizer = load_tokenizer(base, recipe)
    data = prepare(load_conversations(data_files(recipe), recipe.data.format), tokenizer, recipe)
    write_json(run.data_report, data.report.to_json())
    write_heldout(run.heldout, data.heldout_messages)
    emit("stage", message=f"{data.report.train_rows} training and {data.report.eval_rows} evaluation conversations; "
                          f"{data.report.rows_rejected} rejected (see {run.data_report})")
    emit("stage", message="loading the base model")
    model = load_model(base, recipe)
    events = EventsCallback(run.metrics)
    events.install_signal_handlers()
    trainer, fast = build_trainer(recipe, model, tokenizer, Dataset.from_list(data.train_rows),
                                  Dataset.from_list(data.eval_rows) if data.eval_rows else None, run.checkpoints, [events])
    emit("stage", message=f"trainer: {fast.describe()}")
    return train_and_save(trainer, run, tokenizer, events, checkpoint)

