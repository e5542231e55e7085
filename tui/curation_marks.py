"""A chat turn's curation in a few words, the same in `hearth chat`'s /history and beside a bubble's speaker on
the chat screen: "‹2/3›" when /retry made alternatives (the one shown of how many), its rating, "edited" when
it no longer says what it first said."""

from __future__ import annotations


def curation_marks(turn) -> str:
    """A companion.session.Turn's marks as one short line ("" when curation has not touched it)."""
    parts = [f"‹{turn.chosen + 1}/{len(turn.alternatives)}›"] if len(turn.alternatives) > 1 else []
    if turn.rating is not None:
        parts.append(f"rated {turn.rating}/5")
    if turn.original is not None:
        parts.append("edited")
    return " · ".join(parts)
