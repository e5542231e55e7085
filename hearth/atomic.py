"""Write files so that an interrupted write never leaves something that looks finished:
write to a temporary name beside the target, then `os.replace` it into place.

A directory that already exists is never removed before its replacement is in place: the old one is
renamed aside (`.NAME.old-PID`), the new one renamed in, then the old one deleted. A writer killed
on the way (with its parent, so nobody cleans up) leaves `.NAME.partial-PID` or `.NAME.old-PID`;
the next write of the same target removes those of dead processes, and puts an old copy back if
its replacement never arrived. OS errors on the target become one-line `UserError`s.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Iterator

from hearth.user_paths import check_output_file, user_path

# `.NAME.partial-PID` (being written) and `.NAME.old-PID` (the previous copy, set aside for the swap).
LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>partial|old)-(?P<pid>\d+)$")


def _partial_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.partial-{os.getpid()}")


def _aside_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.old-{os.getpid()}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def clean_leftovers(target: str | os.PathLike) -> None:
    """Remove what dead writers of `target` left beside it; an old copy whose replacement never came is restored."""
    target = Path(target)
    prefix = f".{target.name}."
    try:
        entries = [e for e in target.parent.iterdir() if e.name.startswith(prefix)]
    except OSError:
        return  # no parent yet, or unreadable: nothing of ours there
    for entry in sorted(entries, key=lambda e: e.name):
        match = LEFTOVER.match(entry.name)
        if not match or match["name"] != target.name or _pid_alive(int(match["pid"])):
            continue
        if match["kind"] == "old" and not target.exists() and not target.is_symlink():
            os.replace(entry, target)  # killed between the two renames: the previous copy is still good
        else:
            _remove(entry)


@contextlib.contextmanager
def _staged(target: Path) -> Iterator[Path]:
    """The temporary path beside `target`, removed unless the block moved it into place."""
    partial = _partial_name(target)
    with user_path(target, "write", partial, _aside_name(target)):
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_leftovers(target)
        try:
            yield partial
        finally:
            if partial.exists() or partial.is_symlink():
                _remove(partial)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; it becomes `target` only if the block succeeds."""
    target = check_output_file(target)
    with _staged(target) as partial:
        yield partial
        os.replace(partial, target)


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike) -> Iterator[Path]:
    """Like `atomic_path` for a directory: build it beside the target, then swap it in."""
    target = Path(target)
    with _staged(target) as partial:
        partial.mkdir(parents=True)
        yield partial
        if not target.exists() and not target.is_symlink():
            os.replace(partial, target)
            return
        aside = _aside_name(target)
        os.replace(target, aside)
        os.replace(partial, target)
        _remove(aside)


def write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | os.PathLike, obj) -> None:
    write_text(target, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")
