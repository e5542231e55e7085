"""OS errors on paths the user named, as one sentence: what went wrong with which path.

Reading a data file, writing a report or an export: the operating system says `PermissionError`,
`IsADirectoryError`, a symlink loop or a full disk with a traceback. Here every such error on a
user's path becomes a `UserError` (one line, exit 2). Only errors about the named paths are
translated; any other OSError is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Iterator

from hearth.errors import UserError

# errno -> what it means for the user's path (anything else: the system's own words).
REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "it is a directory, not a file",
    errno.ENOTDIR: "a part of the path is a file, not a directory",
    errno.ENOENT: "no such file or directory",
    errno.ELOOP: "it is a symbolic link loop",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is used up",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EEXIST: "something else is already there",
    errno.EIO: "the device could not be read (input/output error)",
}
ACTIONS = {"read": "cannot read", "write": "cannot write"}


def reason(exc: OSError) -> str:
    """The errno of `exc` in a few words."""
    return REASONS.get(exc.errno, exc.strerror or type(exc).__name__)


def user_error(exc: OSError, path: str | os.PathLike, action: str) -> UserError:
    return UserError(f"{ACTIONS[action]} this: {reason(exc)}", where=str(path))


@contextlib.contextmanager
def user_path(path: str | os.PathLike, action: str, *also: str | os.PathLike) -> Iterator[None]:
    """Turn an OSError about `path` (or the paths in `also`, such as a temporary file beside it) into
    a UserError naming `path`; `action` is "read" or "write"."""
    mine = {os.fspath(p) for p in (path, *also)}
    try:
        yield
    except OSError as exc:
        # exc.filename is None for errors raised far from a path (sockets, pipes): not the user's path.
        names = {os.fspath(n) for n in (exc.filename, exc.filename2) if n is not None}
        if not names & mine and not any(_inside(n, mine) for n in names):
            raise
        raise user_error(exc, path, action) from None


def _inside(name: str, paths: set[str]) -> bool:
    """Whether `name` is a parent of one of `paths` (creating a parent directory can fail too)."""
    try:
        return any(Path(p).is_relative_to(name) for p in paths)
    except ValueError:
        return False


def check_output_file(path: str | os.PathLike) -> Path:
    """A file the user asked hearth to write: refuse an existing directory there before any work is done."""
    target = Path(path)
    if target.is_dir():
        raise UserError("this is a directory; give a file name to write", where=str(target))
    return target
