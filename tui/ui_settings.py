"""What the app remembers between launches (the theme F2 last chose), in HEARTH_HOME/tui.json.

Written atomically (hearth.atomic), so a launch never reads half a file; a file that is missing, unreadable,
not JSON or of the wrong shape counts as no settings, and the app starts with its defaults.
"""

from __future__ import annotations

import json
from pathlib import Path

from hearth.atomic import write_json
from hearth.paths import hearth_home

SETTINGS_FILE = "tui.json"


def settings_path() -> Path:
    return hearth_home() / SETTINGS_FILE


def load_settings() -> dict:
    try:
        settings = json.loads(settings_path().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return settings if isinstance(settings, dict) else {}


def saved_theme(known: set[str] | dict, default: str) -> str:
    """The theme saved last, if it is one of `known` (a theme removed since falls back to `default`)."""
    theme = load_settings().get("theme")
    return theme if isinstance(theme, str) and theme in known else default


def save_theme(theme: str) -> None:
    """Keep `theme` with the other settings (a UserError when HEARTH_HOME cannot be written); the theme
    restored at launch is already there, and is not written again."""
    settings = load_settings()
    if settings.get("theme") != theme:
        write_json(settings_path(), {**settings, "theme": theme})
