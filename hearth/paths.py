"""Where hearth keeps its files (`HEARTH_HOME`) and the layout of a run on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import platformdirs


def hearth_home() -> Path:
    """`$HEARTH_HOME`, or the platform's user data directory."""
    env = os.environ.get("HEARTH_HOME")
    home = Path(env).expanduser() if env else Path(platformdirs.user_data_dir("hearth", appauthor=False))
    home.mkdir(parents=True, exist_ok=True)
    return home


def models_dir() -> Path:
    return hearth_home() / "models"


def runs_dir() -> Path:
    return hearth_home() / "runs"


def history_db() -> Path:
    return hearth_home() / "history.db"


class RunPaths:
    """The files one training run owns, named once (docs/architecture.md, 'A run on disk')."""

    def __init__(self, root: Path):
        self.root = Path(root)

    recipe = property(lambda self: self.root / "recipe.yaml")
    data_report = property(lambda self: self.root / "data-report.json")
    metrics = property(lambda self: self.root / "metrics.jsonl")
    checkpoints = property(lambda self: self.root / "checkpoints")
    adapter = property(lambda self: self.root / "adapter")
    merged = property(lambda self: self.root / "merged")
    gguf = property(lambda self: self.root / "gguf")
    heldout = property(lambda self: self.root / "heldout.jsonl")
    heldout_preferences = property(lambda self: self.root / "heldout-preferences.jsonl")  # DPO/KTO runs' rendered rows

    def latest_checkpoint(self) -> Path | None:
        """The newest `checkpoints/checkpoint-N`, where a resume starts."""
        steps = [(int(p.name.rsplit("-", 1)[1]), p) for p in self.checkpoints.glob("checkpoint-*")
                 if p.name.rsplit("-", 1)[1].isdigit()]
        return max(steps)[1] if steps else None

    def last_step(self) -> int:
        """The last optimizer step recorded in metrics.jsonl (0 before the first)."""
        if not self.metrics.exists():
            return 0
        lines = self.metrics.read_text(encoding="utf-8").splitlines()
        return max((json.loads(line).get("step", 0) for line in lines if line.strip()), default=0)

    def _saved_recipe(self) -> dict:
        import yaml

        saved = yaml.safe_load(self.recipe.read_text(encoding="utf-8"))
        return saved if isinstance(saved, dict) else {}

    def recipe_name(self) -> str:
        """The `name:` of the run's saved recipe."""
        return self._saved_recipe().get("name", "?")

    def method(self) -> str:
        """How the run trains (`train.method`: sft, dpo or kto; runs from before preference training are sft)."""
        train = self._saved_recipe().get("train")
        return train.get("method", "sft") if isinstance(train, dict) else "sft"


def run_of_export(path: str | os.PathLike | None) -> RunPaths | None:
    """The run a file in `<run>/gguf/` was exported from (a model or a LoRA GGUF), whether the path reaches it
    through a link or is a link to it; None for any other file."""
    if path is None:
        return None
    path = Path(path).expanduser()
    for folder in (path.absolute().parent, path.resolve().parent):
        run = RunPaths(folder.parent)
        if folder.name == run.gguf.name and any(f.is_file() for f in (run.recipe, run.data_report, run.heldout)):
            return run
    return None


def resolve_run(run: str | os.PathLike) -> RunPaths:
    """A run id under `HEARTH_HOME/runs`, or a path to a run directory."""
    from hearth.errors import UserError

    candidate = Path(run).expanduser()
    if candidate.is_dir():
        return RunPaths(candidate)
    by_id = runs_dir() / str(run)
    if by_id.is_dir():
        return RunPaths(by_id)
    raise UserError(f"no run named '{run}' (looked for a directory and for {by_id}); `hearth runs` lists them")
