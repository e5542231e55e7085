"""Model weights come from safetensors files only, and a safetensors file is checked before anything loads it.

A pickle (`pytorch_model.bin`, `.pt`, `.ckpt`) runs code when it is loaded, and a model directory is
often a stranger's download: hearth never loads one. Every room that loads weights (training, merge,
conversion, verification) asks `safetensors_files` first, which refuses a pickle-only directory in one
line, and reads each file's header with `safetensors_header`, which refuses a header whose length is
absurd, that is not JSON, or whose tensors lie beyond the end of the file — before a library would try
to allocate or map it.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

from hearth.errors import UserError
from hearth.user_paths import user_path

# The safetensors format's own limit on the JSON header.
MAX_HEADER_BYTES = 100 * 1024 * 1024
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
INDEX_NAME = "model.safetensors.index.json"
# Bytes per element of the safetensors dtypes (a tensor's byte range must match its shape).
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4,
               "U16": 2, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def safetensors_files(model_dir: str | os.PathLike) -> list[Path]:
    """The safetensors files holding a model directory's (or adapter directory's) weights, headers checked."""
    model_dir = Path(model_dir)
    index = model_dir / INDEX_NAME
    files = _indexed_shards(index) if index.is_file() else sorted(model_dir.glob("*.safetensors"))
    if not files:
        pickles = sorted(p.name for p in model_dir.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES) \
            if model_dir.is_dir() else []
        found = f"only pickle weights ({', '.join(pickles)})" if pickles else "no .safetensors weights"
        raise UserError(f"{found} here; hearth loads safetensors only, since a pickle can run code — "
                        "re-save the model with save_pretrained(..., safe_serialization=True)", where=str(model_dir))
    for file in files:
        safetensors_header(file)
    return files


def _indexed_shards(index: Path) -> list[Path]:
    with user_path(index, "read"):
        text = index.read_text(encoding="utf-8", errors="replace")
    try:
        weight_map = json.loads(text)["weight_map"]
        names = sorted(set(weight_map.values()))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise UserError("not a safetensors index (JSON with a 'weight_map' of tensor → file)", where=str(index)) from None
    shards = []
    for name in names:
        # A shard is a file beside the index: a path that climbs out of the directory is refused.
        if not isinstance(name, str) or Path(name).name != name or not name.endswith(".safetensors"):
            raise UserError(f"the index names the shard {name!r}, which is not a .safetensors file beside it",
                            where=str(index))
        shard = index.parent / name
        if not shard.is_file():
            raise UserError(f"the index names the shard {name}, which is missing", where=str(index))
        shards.append(shard)
    return shards


def safetensors_header(file: str | os.PathLike) -> tuple[dict, int]:
    """(the header's tensor entries by name, the byte offset where tensor data starts), every entry checked."""
    file = Path(file)
    with user_path(file, "read"), open(file, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        prefix = f.read(8)
        if len(prefix) < 8:
            raise UserError("too short to be a safetensors file", where=str(file))
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > MAX_HEADER_BYTES or header_len > size - 8:
            raise UserError(f"the header claims {header_len:,} bytes in a file of {size:,} (safetensors allows "
                            f"{MAX_HEADER_BYTES // 2**20} MB); the file is damaged or not safetensors", where=str(file))
        raw = f.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UserError("the header is not valid JSON; the file is damaged or not safetensors", where=str(file)) from None
    if not isinstance(header, dict):
        raise UserError("the header is not a JSON object; the file is damaged or not safetensors", where=str(file))
    data_start = 8 + header_len
    tensors = {name: info for name, info in header.items() if name != "__metadata__"}
    for name, info in tensors.items():
        _check_entry(name, info, size - data_start, file)
    return tensors, data_start


def _check_entry(name: str, info, data_bytes: int, file: Path) -> None:
    def bad(why: str) -> UserError:
        return UserError(f"tensor '{name}' {why}; the file is damaged or not safetensors", where=str(file))

    if not isinstance(info, dict) or not isinstance(info.get("dtype"), str):
        raise bad("has no dtype")
    shape, offsets = info.get("shape"), info.get("data_offsets")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise bad(f"has the shape {shape!r}")
    if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]):
        raise bad(f"has the byte range {offsets!r}")
    if offsets[1] > data_bytes:
        raise UserError(f"tensor '{name}' ends at byte {offsets[1]:,} of the data, but the file holds {data_bytes:,}; "
                        "it is cut short (an interrupted download or copy?)", where=str(file))
    itemsize = DTYPE_BYTES.get(info["dtype"])
    if itemsize is not None and math.prod(shape) * itemsize != offsets[1] - offsets[0]:
        raise bad(f"of shape {shape} and type {info['dtype']} does not fill its {offsets[1] - offsets[0]:,} bytes")
