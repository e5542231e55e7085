"""Creating a training run: a recipe name (or file), data files and overrides, checked before the run's directory
exists, then `HEARTH_HOME/runs/<recipe>-<time>/` holding the resolved recipe.

One service for every front end: `hearth train`, the TUI's train screen and the demo all go through
`create_run`, so a run is checked the same way wherever it starts (plain values here, no argparse).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from hearth.atomic import write_text
from hearth.errors import UserError
from hearth.paths import RunPaths, resolve_run, runs_dir

# RunRequest field -> the recipe field it overrides (when given).
OVERRIDE_FIELDS = {
    "base": "model.base",
    "max_steps": "train.max_steps",
    "epochs": "train.epochs",
    "learning_rate": "train.learning_rate",
    "format": "data.format",
    "method": "train.method",
}
# recipe -> the packaged base it trains (tuner/packaged_models.py), most capable first: the default recipe is the
# first whose base is on disk, so a user who ran `hearth base smollm2` trains on it without naming a recipe.
RECIPES_BY_PACKAGED_BASE = {"smollm2-cpu": "smollm2"}
OFFLINE_RECIPE = "tiny-offline"  # the embedded tiny base: needs nothing on disk


def default_recipe() -> str:
    """The recipe `hearth train` and the train screen take when none is named."""
    from tuner.packaged_models import packaged_base_dir

    for recipe, base in RECIPES_BY_PACKAGED_BASE.items():
        if (packaged_base_dir(base) / "config.json").is_file():
            return recipe
    return OFFLINE_RECIPE
# A preference run refines a tuned model, so when it takes the SFT run's own recipe it takes a tenth of its
# learning rate (a usual ratio between SFT and DPO on LoRA) unless one is given.
PREFERENCE_LEARNING_RATE_SCALE = 0.1


@dataclass
class RunRequest:
    recipe: str | None = None
    """A built-in recipe name or a recipe YAML file (default: the recipe of the run started from, else `default_recipe()`)."""
    data: list[str] = field(default_factory=list)
    """Dataset files replacing the recipe's (empty: keep the recipe's)."""
    base: str | None = None
    max_steps: int | None = None
    epochs: float | None = None
    learning_rate: float | None = None
    format: str | None = None
    method: str | None = None
    """sft, dpo or kto (default: the recipe's)."""
    start_from: str | None = None
    """A tuned run (name or directory) whose merged model a DPO/KTO run starts from; merged first if need be."""
    system_prompt: str | None = None
    overrides: list[str] = field(default_factory=list)
    """`SECTION.FIELD=VALUE` strings, applied before the named fields above."""


def checked_recipe(request: RunRequest):
    """The recipe with the request applied and validated — and its data readable — before any run exists."""
    import torch

    from tuner.data import absolute_data_path, load_conversations
    from tuner.formats import check_formats_for_method
    from tuner.prepare import data_files
    from tuner.recipe import load_recipe

    overrides = list(request.overrides)
    for name, key in OVERRIDE_FIELDS.items():
        value = getattr(request, name)
        if value is not None:
            overrides.append(f"{key}={value}")
    start = resolve_run(request.start_from) if request.start_from else None
    if start is not None and request.recipe is None:
        recipe = start_run_recipe(start, request.method or "sft", overrides)
    else:
        recipe = load_recipe(request.recipe or default_recipe(), overrides)
    if start is not None:
        _start_from(recipe, start)
    if request.data:
        recipe.data.files = [absolute_data_path(p) for p in request.data]
    if request.system_prompt is not None:
        recipe.system_prompt = request.system_prompt
    if recipe.lora.qlora and not torch.cuda.is_available():
        raise UserError("lora.qlora needs a CUDA GPU (bitsandbytes 4-bit); on this machine set lora.qlora: false")
    loaded = load_conversations(data_files(recipe), recipe.data.format)  # bad data fails here, exit 2
    check_formats_for_method(loaded.formats, recipe.train.method)
    return recipe


def start_run_recipe(start: RunPaths, method: str, overrides: list[str] | tuple = ()):
    """The recipe a run started from `start` takes when it names none: the start run's own, for DPO/KTO renamed
    `<name>-<method>` and with a tenth of its learning rate — unless an override sets one. Merges nothing (the train
    screen shows it before anything runs)."""
    from tuner.recipe import load_recipe

    if method == "sft":
        return load_recipe(str(start.recipe), overrides)
    own = load_recipe(str(start.recipe))
    scaled = f"train.learning_rate={own.train.learning_rate * PREFERENCE_LEARNING_RATE_SCALE!r}"
    recipe = load_recipe(str(start.recipe), [scaled, f"train.method={method}", *overrides])  # later ones win
    recipe.name = f"{own.name}-{method}"
    return recipe


def _start_from(recipe, start: RunPaths) -> None:
    """The run starts from `start`'s merged model (merging its adapter now if it has not been merged)."""
    from tuner.merge import merge_run

    if not start.merged.exists():
        merge_run(start)  # refuses, naming the run, when it has no adapter yet
    recipe.model.base = str(start.merged)
    recipe.preference.start_from = str(start.root)


def new_run(recipe) -> RunPaths:
    """A fresh run directory named after the recipe and the time, holding the resolved recipe."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    root = runs_dir() / f"{recipe.name}-{stamp}"
    suffix = 1
    while root.exists():
        suffix += 1
        root = runs_dir() / f"{recipe.name}-{stamp}-{suffix}"
    root.mkdir(parents=True)
    run = RunPaths(root)
    write_text(run.recipe, recipe.to_yaml())
    return run


def create_run(request: RunRequest) -> RunPaths:
    return new_run(checked_recipe(request))
