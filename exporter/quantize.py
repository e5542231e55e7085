"""GGUF → quantized GGUF through llama.cpp's own quantizer, as exposed by llama-cpp-python.

llama.cpp prints a line per tensor while it works; that goes to a capture (shown live with
--verbose), and the caller gets a one-line summary instead. The output is written under a
temporary name and renamed when complete.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import gguf

from hearth.llama import native_output
from hearth.atomic import atomic_path
from hearth.errors import UserError

F = gguf.LlamaFileType

# Name users type → llama.cpp file type. K-quants need rows that are multiples of 256;
# llama.cpp falls back per tensor for others (hidden 896 → mostly Q5_0 in a "Q4_K_M" file).
QUANT_TYPES: dict[str, F] = {
    "q4_k_m": F.MOSTLY_Q4_K_M,
    "q5_k_m": F.MOSTLY_Q5_K_M,
    "q6_k": F.MOSTLY_Q6_K,
    "q8_0": F.MOSTLY_Q8_0,
    "f16": F.MOSTLY_F16,
    "bf16": F.MOSTLY_BF16,
}


@dataclass
class QuantizeSummary:
    qtype: str
    src: Path
    dst: Path
    src_bytes: int
    dst_bytes: int
    seconds: float
    log: str  # llama.cpp's own per-tensor report

    def line(self) -> str:
        return (f"{self.dst.name}: {self.qtype}, {_mb(self.src_bytes)} → {_mb(self.dst_bytes)} "
                f"({self.dst_bytes / max(self.src_bytes, 1):.0%}) in {self.seconds:.1f} s")

    def as_dict(self) -> dict:
        return {"type": self.qtype, "file": self.dst.name, "bytes_before": self.src_bytes,
                "bytes_after": self.dst_bytes, "seconds": round(self.seconds, 2)}


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def parse_quant_types(text: str) -> tuple[str, ...]:
    """`q4_k_m,q8_0` → ("q4_k_m", "q8_0"), refusing unknown names."""
    names = tuple(name.strip().lower() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in QUANT_TYPES]
    if unknown:
        raise UserError(f"unknown quantization type {', '.join(unknown)}; choose from {', '.join(QUANT_TYPES)}")
    return names


def quantize_gguf(src, dst, qtype: str, *, threads: int | None = None) -> QuantizeSummary:
    """Quantize the GGUF file `src` into `dst` as `qtype` (a key of QUANT_TYPES)."""
    import llama_cpp

    src, dst = Path(src), Path(dst)
    qtype = qtype.lower()
    if qtype not in QUANT_TYPES:
        raise UserError(f"unknown quantization type '{qtype}'; choose from {', '.join(QUANT_TYPES)}")
    if not src.is_file():
        raise UserError("no such GGUF file", where=str(src))
    params = llama_cpp.llama_model_quantize_default_params()  # the struct changes between versions
    params.ftype = int(QUANT_TYPES[qtype])
    params.nthread = threads or os.cpu_count() or 1
    started = time.perf_counter()
    with atomic_path(dst) as partial:
        with native_output(level=logging.INFO) as captured:
            status = llama_cpp.llama_model_quantize(str(src).encode(), str(partial).encode(), params)
        if status != 0:
            raise UserError(f"llama.cpp could not quantize to {qtype} (status {status}): {captured.tail(3)}",
                            where=str(src))
    return QuantizeSummary(qtype, src, dst, src.stat().st_size, dst.stat().st_size,
                           time.perf_counter() - started, captured.text)
