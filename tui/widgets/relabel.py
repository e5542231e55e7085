"""New options for a Select that keep what it selects: the labels follow a model's language or a new run list
without the selection jumping, and without a Changed event, so nothing downstream reacts to a relabel as if the
person had chosen anew."""

from __future__ import annotations

from textual.widgets import Select


def relabel(select: Select, options: list[tuple[str, object]]) -> None:
    """Give `select` these (label, value) options; keep its value if still offered, else the first, else blank."""
    values = [value for _, value in options]
    kept = select.value
    with select.prevent(Select.Changed):
        select.set_options(options)
        select.value = kept if kept in values else values[0] if values else Select.NULL
