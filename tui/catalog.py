"""What is on disk for the app to offer: training runs, the GGUF models they exported, personas.

Reading is forgiving: a run being written while the home screen refreshes (a half-written metrics
line, a recipe mid-save) shows as unreadable for a moment instead of taking the app down.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from hearth.paths import RunPaths, runs_dir

NO_PERSONA = ""  # the chat screen's "no persona: a plain assistant" choice

# What a file caught mid-write looks like when read: missing, cut short, or the wrong shape.
UNREADABLE = (OSError, ValueError, AttributeError, TypeError, yaml.YAMLError)


@dataclass(frozen=True)
class RunSummary:
    run: RunPaths
    recipe: str
    steps: int | None  # None: metrics.jsonl could not be read just now
    has_adapter: bool
    has_merged: bool
    models: tuple[Path, ...]  # the run's model GGUFs, best first (companion.models.QUANT_PREFERENCE)
    has_eval: bool = False  # runs/<id>/eval/eval.json (hearth eval)

    @property
    def id(self) -> str:
        return self.run.root.name


def summarize_run(run: RunPaths) -> RunSummary:
    from companion.models import model_files

    try:
        recipe = run.recipe_name()
    except UNREADABLE:
        recipe = "?"
    try:
        steps = run.last_step()
    except UNREADABLE:
        steps = None
    return RunSummary(
        run=run,
        recipe=recipe,
        steps=steps,
        has_adapter=(run.adapter / "adapter_config.json").is_file(),
        has_merged=(run.merged / "config.json").is_file(),
        models=tuple(model_files(run.gguf)) if run.gguf.is_dir() else (),
        has_eval=(run.root / "eval" / "eval.json").is_file(),
    )


def run_summaries() -> list[RunSummary]:
    """Every run with a recipe, newest first."""
    root = runs_dir()
    if not root.is_dir():
        return []
    runs = [RunPaths(path) for path in root.iterdir() if (path / "recipe.yaml").is_file()]
    runs.sort(key=lambda run: run.recipe.stat().st_mtime, reverse=True)
    return [summarize_run(run) for run in runs]


def chat_models() -> list[Path]:
    """Every exported model, newest run first and each run's preferred quantization first."""
    return [model for summary in run_summaries() for model in summary.models]


def model_label(path: Path) -> str:
    """`q8_0 · <run>` for a run's `<run>-<quant>.gguf`: the part that differs first, where a narrow
    screen still shows it."""
    run, _, quant = path.stem.rpartition("-")
    return f"{quant} · {run}" if run else path.name


def persona_label(entry, language: str | None = None) -> str:
    """A personas.library.PersonaEntry as the character's name (in `language` when the persona has a card in it:
    `Lin Zhi` for an English run), and the name to type for it when that differs (林栀 · linzhi). A stranger's
    card may name itself with terminal escapes or bidi overrides."""
    from personas.card import display_text

    character = entry.character_in(language)
    label = character if character == entry.name else f"{character} · {entry.name}"
    return display_text(label)


def persona_choices(language: str | None = None, entries=None) -> list[tuple[str, str]]:
    """(label, persona name) for each readable persona, built-ins first, named in `language` where they can be;
    `entries`: personas.library.list_personas() already read, so a caller labelling twice reads the cards once."""
    from personas.library import list_personas

    entries = list_personas() if entries is None else entries
    return [(persona_label(entry, language), entry.name) for entry in entries if entry.problem is None]
