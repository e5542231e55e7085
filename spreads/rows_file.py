"""Tarot rows in JSONL files: read one line at a time with its file:line, write a file whole or not at all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Iterator

from hearth.atomic import atomic_path
from hearth.errors import UserError


def read_rows(path: str | Path) -> Iterator[tuple[str, object, str | None]]:
    """(file:line, row, None) for each non-empty line, or (file:line, None, why) for one that is not JSON.
    A missing or non-UTF-8 file is a UserError."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError("no such readings file", where=str(path))
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise UserError("is not UTF-8 text; save it as UTF-8 JSONL", where=str(path)) from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{number}", json.loads(line), None
        except json.JSONDecodeError as exc:
            yield f"{path}:{number}", None, f"not valid JSON ({exc.msg})"


def write_rows(out: str | Path, rows: Iterable[dict]) -> None:
    with atomic_path(out) as partial:
        with open(partial, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
