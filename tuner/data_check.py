"""What training would make of a recipe's data, without training: the rows kept, the rows rejected (file:line and
why), token lengths under the base's tokenizer and the rows max length would cut.

One service for `hearth data check` and the TUI's train screen (its Check data button), so both report the
same numbers the run itself will log (tuner.prepare builds the report).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from tuner.data_report import DataReport, PreferenceReport


@dataclass
class DataCheck:
    report: DataReport
    """tuner.prepare's report, the one the run will write as data-report.json."""
    tokenizer: str
    """The base whose tokenizer measured the data (a directory or a hub id, as tuner.model_loading resolves it)."""
    preference: PreferenceReport | None = None
    """For preference files (pairs, KTO rows): what a DPO run (pairs only) or a KTO run would train on."""


def preference_method(formats: dict[str, str]) -> str | None:
    """The method preference files train with as they are: dpo for pairs only, kto once a file has rated rows;
    None when some file is not preference data."""
    from tuner.formats import FORMATS_BY_NAME

    if not formats or not all(name in FORMATS_BY_NAME and FORMATS_BY_NAME[name].preference for name in formats.values()):
        return None
    return "dpo" if set(formats.values()) == {"preference"} else "kto"


def check_data(recipe, files: list[str] | None = None, tokenizer: str | None = None) -> DataCheck:
    """Check `files` (default: the recipe's own, `builtin:` ones included) with the recipe's format and max length,
    measured with `tokenizer`'s (default: the recipe's base's). Bad files fail before any model loads."""
    from tuner.data import load_conversations
    from tuner.model_loading import load_tokenizer, resolve_base
    from tuner.prepare import data_files, prepare

    loaded = load_conversations(files or data_files(recipe), recipe.data.format)
    base = resolve_base(tokenizer or recipe.model.base)
    loaded_tokenizer = load_tokenizer(base, recipe)
    checked = DataCheck(prepare(loaded, loaded_tokenizer, recipe).report, base)
    method = preference_method(loaded.formats)
    if method is not None:
        from tuner.preference.rows import preference_data

        as_trained = copy.deepcopy(recipe)
        as_trained.train.method = method
        checked.preference = preference_data(loaded, loaded_tokenizer, as_trained).report
    return checked
