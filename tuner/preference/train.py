"""A DPO or KTO run: TRL's DPOTrainer/KTOTrainer with a fresh PEFT LoRA on top of the run's base — for a preference
run, the merged model of the SFT run it starts from (`preference.start_from`). The reference model is that same
base with the adapter switched off, so no second copy of the weights is loaded.

Everything around the trainer is the SFT run's (tuner/trainer_run.py): the recipe's arguments, events and metrics,
cancel and resume from the last checkpoint, an atomic adapter; merge and export then treat the run like any other.
"""

from __future__ import annotations

from hearth.atomic import write_json
from hearth.events import emit
from hearth.jsonl import write_rows
from hearth.paths import RunPaths
from tuner.data import load_conversations
from tuner.model_loading import load_model, load_tokenizer, lora_config, resolve_base
from tuner.prepare import data_files
from tuner.preference.rows import preference_data
from tuner.progress_events import EventsCallback
from tuner.recipe import Recipe
from tuner.resume import resume_checkpoint
from tuner.trainer_run import early_stopping_callbacks, train_and_save, training_arguments, write_heldout


def _dpo(recipe: Recipe):
    from trl import DPOConfig, DPOTrainer

    return DPOTrainer, DPOConfig, {"loss_type": [recipe.preference.loss_type]}


def _kto(recipe: Recipe):
    from trl import KTOConfig, KTOTrainer

    return KTOTrainer, KTOConfig, {"desirable_weight": recipe.preference.desirable_weight,
                                   "undesirable_weight": recipe.preference.undesirable_weight}


TRAINERS = {"dpo": _dpo, "kto": _kto}  # method -> (trainer class, config class, the method's own arguments)


def build_preference_trainer(recipe: Recipe, model, tokenizer, train_rows: list[dict], eval_rows: list[dict],
                             output_dir, callbacks=()):
    from datasets import Dataset

    trainer_class, config_class, own = TRAINERS[recipe.train.method](recipe)
    has_eval = bool(eval_rows)
    kwargs = training_arguments(recipe, output_dir, has_eval)
    kwargs.update(own, max_length=recipe.data.max_length, beta=recipe.preference.beta)
    args = config_class(**kwargs)
    return trainer_class(model=model, args=args, train_dataset=Dataset.from_list(train_rows),
                         eval_dataset=Dataset.from_list(eval_rows) if has_eval else None, processing_class=tokenizer,
                         peft_config=lora_config(recipe), callbacks=[*callbacks, *early_stopping_callbacks(recipe, args)])


def run_preference_training(run: RunPaths, recipe: Recipe, resume: bool = False) -> dict:
    checkpoint = resume_checkpoint(run, lambda message: emit("warning", message=message)) if resume else None
    base = resolve_base(recipe.model.base)
    method = recipe.train.method
    emit("stage", message=f"loading tokenizer and {method.upper()} data (starting from {base})")
    tokenizer = load_tokenizer(base, recipe)
    data = preference_data(load_conversations(data_files(recipe), recipe.data.format), tokenizer, recipe)
    report = data.report
    write_json(run.data_report, report.to_json())
    write_heldout(run.heldout, data.heldout_messages)
    write_rows(run.heldout_preferences, data.eval_rows)
    emit("stage", message=f"{report.train_rows} training and {report.eval_rows} evaluation rows from "
                          f"{report.rows_kept} ({report.pairs} pairs, {report.desirable} desirable and "
                          f"{report.undesirable} undesirable replies); {report.rows_rejected} rejected "
                          f"(see {run.data_report})")
    if method == "kto" and not (report.desirable and report.undesirable):
        emit("warning", message="KTO learns most from both desirable and undesirable replies; this data has only "
                                f"{'desirable' if report.desirable else 'undesirable'} ones")
    emit("stage", message="loading the model to start from")
    model = load_model(base, recipe)
    events = EventsCallback(run.metrics)
    events.install_signal_handlers()
    trainer = build_preference_trainer(recipe, model, tokenizer, data.train_rows, data.eval_rows, run.checkpoints,
                                       [events])
    emit("stage", message=f"trainer: TRL {type(trainer).__name__}, LoRA r{recipe.lora.r} (beta {recipe.preference.beta}); "
                          "the reference is the starting model with the adapter off")
    return train_and_save(trainer, run, tokenizer, events, checkpoint)
