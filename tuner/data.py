"""Load dataset files (JSONL, JSON, Hugging Face dataset directories) into chat conversations.

The format is detected per file from its first valid row (or named), every row is converted to
`messages`, and rows that do not fit are rejected with file, line and reason — never repaired.
Text is always UTF-8; a byte-order mark and CRLF line ends are accepted, and a file in another
encoding (UTF-16, UTF-32, a legacy code page) is refused naming it or the line where it stops being
UTF-8. Unreadable paths (permissions, symlink loops, devices) are one line each, never a traceback.
"""

from __future__ import annotations

import codecs
import json
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from hearth.errors import UserError
from hearth.user_paths import user_path
from tuner.formats import FORMATS_BY_NAME, RowError, RowFormat, detect_format


@dataclass
class Rejected:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class Conversation:
    messages: list[dict]
    file: str  # where the row was read, for reports and rejections
    line: int
    preference_row: dict | None = None  # a preference or KTO row as read: what is rejected or rated is not in messages

@dataclass
class LoadedData:
    conversations: list[Conversation] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)  # file -> format name


# Byte-order marks of encodings hearth does not read, longest first (UTF-32 LE starts like UTF-16 LE).
FOREIGN_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
                (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))
SNIFF_BYTES = 4096


def _check_encoding(head: bytes, path: Path) -> None:
    """Name the encoding of a file that is not UTF-8 text, from its first bytes."""
    for bom, name in FOREIGN_BOMS:
        if head.startswith(bom):
            raise UserError(f"this is {name} text (it starts with the {name} byte-order mark); save it as UTF-8",
                            where=str(path))
    if b"\x00" in head:  # JSON text never holds a NUL byte
        zeros = max(head[0::2].count(0), head[1::2].count(0))
        kind = "UTF-16 text without a byte-order mark (every other byte is zero)" if zeros > len(head) // 4 \
            else "not a text file (it holds NUL bytes)"
        raise UserError(f"this looks like {kind}; save it as UTF-8 text", where=str(path))


def _not_utf8(path: Path, line: int, byte: int) -> UserError:
    return UserError(f"not UTF-8 text at line {line} (byte {byte} of the line); save the file as UTF-8", where=str(path))


def _read_text(path: Path) -> str:
    """A whole (.json) file as text, its encoding checked."""
    with user_path(path, "read"):
        data = path.read_bytes()
    _check_encoding(data[:SNIFF_BYTES], path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        raise _not_utf8(path, data.count(b"\n", 0, exc.start) + 1, exc.start - line_start + 1) from None


def _rows_jsonl(path: Path) -> Iterator[tuple[int, object]]:
    """One row per line, read a line at a time (a huge file is never held whole)."""
    with user_path(path, "read"), open(path, "rb") as f:
        _check_encoding(f.read(SNIFF_BYTES), path)
        f.seek(0)
        for number, raw in enumerate(f, start=1):
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _not_utf8(path, number, exc.start + 1) from None
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, RowError(f"not valid JSON ({exc.msg} at column {exc.colno})")


def _rows_json(path: Path) -> Iterator[tuple[int, object]]:
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise UserError(f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})", where=str(path)) from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise UserError("a .json dataset must be a list of rows (or {\"data\": [...]})", where=str(path))
    # Rows of a JSON array are numbered from 1 ("row N" rather than a text line).
    yield from enumerate(data, start=1)


def _rows_hf_dir(path: Path) -> Iterator[tuple[int, object]]:
    from datasets import DatasetDict, load_from_disk

    try:
        with user_path(path, "read"):
            dataset = load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(f"not a Hugging Face dataset directory ({exc})", where=str(path)) from None
    if isinstance(dataset, DatasetDict):
        if "train" not in dataset:
            raise UserError(f"the dataset has splits {list(dataset)} but no 'train'", where=str(path))
        dataset = dataset["train"]
    yield from enumerate(dataset, start=1)


# How each kind of path is read: (test, reader).
READERS = (
    (lambda p: p.is_dir(), _rows_hf_dir),
    (lambda p: p.suffix.lower() == ".jsonl", _rows_jsonl),
    (lambda p: p.suffix.lower() == ".json", _rows_json),
)


def _reader_for(path: Path):
    with user_path(path, "read"):
        mode = path.stat().st_mode  # missing, a symlink loop, a folder we may not enter: one line each
    if not stat.S_ISDIR(mode) and not stat.S_ISREG(mode):
        raise UserError("not a regular file (a device, pipe or socket); give a .jsonl or .json file", where=str(path))
    for test, reader in READERS:
        if test(path):
            return reader
    raise UserError("unknown dataset file type; use .jsonl, .json or a Hugging Face dataset directory", where=str(path))


BUILTIN_PREFIX = "builtin:"  # a dataset shipped with hearth, `builtin:linzhi-en` (tuner/prepare.py resolves it)


def absolute_data_path(text: str) -> str:
    """A --data argument as an absolute path (a run's recipe must not depend on the working directory);
    a `builtin:` name is kept as it is, as a recipe names it."""
    if text.startswith(BUILTIN_PREFIX):
        return text
    path = Path(text).expanduser()
    try:
        return str(path.resolve())
    except (RuntimeError, OSError):  # a symlink loop: RuntimeError before Python 3.13, OSError (ELOOP) after
        raise UserError("cannot read this: it is a symbolic link loop", where=str(path)) from None


def load_conversations(paths: list[str | Path], format_name: str = "auto") -> LoadedData:
    """Read every file; keep the rows that convert, reject the rest with reasons."""
    if format_name != "auto" and format_name not in FORMATS_BY_NAME:
        raise UserError(f"unknown data format '{format_name}'; choose auto or one of {', '.join(FORMATS_BY_NAME)}")
    if not paths:
        raise UserError("no data files given; pass --data FILE (or set data.files in the recipe)")
    loaded = LoadedData()
    for raw_path in paths:
        path = Path(raw_path).expanduser()
        reader = _reader_for(path)
        row_format: RowFormat | None = FORMATS_BY_NAME.get(format_name)
        for line, row in reader(path):
            if isinstance(row, RowError):
                loaded.rejected.append(Rejected(str(path), line, str(row)))
                continue
            if row_format is None:
                row_format = detect_format(row)
                if row_format is None:
                    loaded.rejected.append(Rejected(str(path), line, "not a known row format (" + _known_formats() + ")"))
                    continue
            try:
                messages = row_format.to_messages(row) if isinstance(row, dict) else _not_object(row)
            except RowError as exc:
                loaded.rejected.append(Rejected(str(path), line, f"{row_format.name}: {exc}"))
                continue
            loaded.conversations.append(Conversation(messages, str(path), line, row if row_format.preference else None))
        loaded.formats[str(path)] = row_format.name if row_format else "unknown"
    if not loaded.conversations:
        first = f"; first problem: {loaded.rejected[0]}" if loaded.rejected else ""
        raise UserError(f"no valid rows in {', '.join(map(str, paths))}{first}")
    return loaded


def _not_object(row) -> list[dict]:
    raise RowError(f"a row must be a JSON object, got {type(row).__name__}")


def _known_formats() -> str:
    return "; ".join(f.description for f in FORMATS_BY_NAME.values())
