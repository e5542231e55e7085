"""Read safetensors files one tensor — or one block of rows — at a time, as float32 numpy arrays.

We parse the safetensors header ourselves and read byte ranges with plain file reads: no torch, no
memory map (whose touched pages would count against the process and grow with the model), so the
converter's memory stays near one block of rows however large the model is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from hearth.errors import UserError
from hearth.weights import safetensors_files, safetensors_header

# safetensors dtype → how its bytes are read and widened to float32
_FLOAT_DTYPES: dict[str, np.dtype] = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # the upper half of a float32: widened by shifting
    "F64": np.dtype("<f8"),
}

# Rows read per block: about this many bytes of float32 at a time.
BLOCK_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class SourceTensor:
    """One tensor inside a safetensors file: where its bytes lie and how to read them."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    file: Path
    offset: int  # absolute byte offset in the file
    nbytes: int

    @property
    def n_rows(self) -> int:
        return self.shape[0] if self.shape else 1

    @property
    def row_elements(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) if len(self.shape) > 1 else 1

    def read(self) -> np.ndarray:
        """The whole tensor as float32."""
        return self.read_rows(0, self.n_rows).reshape(self.shape)

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) as a float32 array of shape (stop-start, *shape[1:])."""
        storage = _FLOAT_DTYPES[self.dtype]
        count = (stop - start) * self.row_elements
        with open(self.file, "rb") as f:
            f.seek(self.offset + start * self.row_elements * storage.itemsize)
            raw = np.fromfile(f, dtype=storage, count=count)
        if raw.size != count:
            raise UserError(f"tensor '{self.name}' is cut short; the file is incomplete", where=str(self.file))
        return _to_float32(raw, self.dtype).reshape((stop - start, *self.shape[1:]) if self.shape else ())

    def row_blocks(self) -> Iterator[np.ndarray]:
        """The tensor in blocks of whole rows, each about BLOCK_BYTES of float32."""
        rows_per_block = max(1, BLOCK_BYTES // (4 * self.row_elements))
        for start in range(0, self.n_rows, rows_per_block):
            yield self.read_rows(start, min(self.n_rows, start + rows_per_block))


def _to_float32(raw: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "BF16":
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(np.float32, copy=False)


def read_header(file: Path) -> dict[str, SourceTensor]:
    """The tensors listed in one safetensors file's JSON header (checked by hearth.weights first)."""
    header, data_start = safetensors_header(file)
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in _FLOAT_DTYPES:
            raise UserError(f"tensor '{name}' is stored as {info['dtype']}; hearth converts float weights "
                            "(F32, F16, BF16) — save the model unquantized", where=str(file))
        begin, end = info["data_offsets"]
        tensors[name] = SourceTensor(name, info["dtype"], tuple(info["shape"]), file, data_start + begin, end - begin)
    return tensors


def model_tensors(model_dir: Path) -> dict[str, SourceTensor]:
    """Every tensor of a model directory, across shards (safetensors only: a pickle-only directory is refused)."""
    tensors: dict[str, SourceTensor] = {}
    for file in safetensors_files(Path(model_dir)):
        tensors.update(read_header(file))
    return tensors
