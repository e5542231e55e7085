"""What training would make of a recipe's data, without training: the rows kept, the rows rejected (file:line and
why), token lengths under the base's tokenizer and the rows max length would cut.

One service for `hearth data check` and the TUI's train screen (its Check data button), so both report the
same numbers the run itself will log (tuner.prepare builds the report).
"""

from __future__ import annotations

from dataclasses import dataclass

from tuner.data_report import DataReport


@dataclass
class DataCheck:
    report: DataReport
    """tuner.prepare's report, the one the run will write as data-report.json."""
    tokenizer: str
    """The base whose tokenizer measured the data (a directory or a hub id, as tuner.model_loading resolves it)."""


def check_data(recipe, files: list[str] | None = None, tokenizer: str | None = None) -> DataCheck:
    """Check `files` (default: the recipe's own, `builtin:` ones included) with the recipe's format and max length,
    measured with `tokenizer`'s (default: the recipe's base's). Bad files fail before any model loads."""
    from tuner.data import load_conversations
    from tuner.model_loading import load_tokenizer, resolve_base
    from tuner.prepare import data_files, prepare

    loaded = load_conversations(files or data_files(recipe), recipe.data.format)
    base = resolve_base(tokenizer or recipe.model.base)
    return DataCheck(prepare(loaded, load_tokenizer(base, recipe), recipe).report, base)
