"""JSON lines (one JSON value per line): read lazily, each row with its file:line; written whole or not at all.

A reader gets `Line`s one at a time, so a file of any size is never held whole. Blank lines are passed over, a
UTF-8 byte-order mark on the first line is accepted. What the user can fix is a `UserError` that names where:
the file missing or unreadable (the path), not UTF-8 (file:line), a line that is not JSON (file:line) — or, for
a reader that lists every bad line instead of stopping at the first, that line's `problem`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from hearth.atomic import atomic_path
from hearth.errors import UserError
from hearth.user_paths import user_path


@dataclass(frozen=True)
class Line:
    path: Path
    number: int  # from 1, as an editor counts
    row: object = None  # the parsed value
    problem: str | None = None  # why the line is not JSON (then `row` is None)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.number}"


def read_lines(path: str | os.PathLike, *, what: str = "file") -> Iterator[Line]:
    """Every non-blank line, parsed; a line that is not JSON carries its `problem` and the reading goes on.
    `what` names the file in the error for a missing one ("no such readings file")."""
    path = Path(path).expanduser()
    if not path.exists():
        raise UserError(f"no such {what}", where=str(path))
    with user_path(path, "read"), open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise UserError(f"not UTF-8 text at line {number}; save the file as UTF-8", where=str(path)) from None
            if not text.strip():
                continue
            try:
                yield Line(path, number, json.loads(text))
            except json.JSONDecodeError as exc:
                yield Line(path, number, problem=f"not valid JSON ({exc.msg} at column {exc.colno})")


def read_rows(path: str | os.PathLike, *, what: str = "file") -> Iterator[Line]:
    """Like `read_lines`, but the first line that is not JSON stops the reading: a UserError naming file:line."""
    for line in read_lines(path, what=what):
        if line.problem:
            raise UserError(line.problem, where=line.where)
        yield line


def write_rows(path: str | os.PathLike, rows: Iterable) -> None:
    """One JSON value per line, non-ASCII text as itself; the file appears only once every row is written."""
    with atomic_path(path) as partial, open(partial, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
