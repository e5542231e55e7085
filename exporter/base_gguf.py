"""The f16 GGUF of a LoRA's base model: converted once per base, shared by every run trained on it.

A GGUF LoRA is applied on top of its base in GGUF form (`llama-cli -m BASE.gguf --lora RUN-lora.gguf`,
`hearth chat --model BASE.gguf --lora RUN-lora.gguf`), so exporting an adapter needs the base as GGUF
too: about 1 GB for a 0.5B model, 15 GB for a 7B one. Written into each run it would cost that much
per run; here every run on the same base shares one file under HEARTH_HOME/models/gguf/, named after
the base directory and a fingerprint of its top-level files (names, sizes, modification times), so a
base that changes on disk gets a new file instead of a stale one.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

from exporter.convert import convert_hf_to_gguf
from hearth.paths import models_dir


def base_fingerprint(base_dir: Path) -> str:
    digest = hashlib.sha256(str(Path(base_dir).resolve()).encode())
    for file in sorted(p for p in Path(base_dir).iterdir() if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:12]


def base_gguf_path(base_dir: Path) -> Path:
    return models_dir() / "gguf" / f"{Path(base_dir).name}-{base_fingerprint(base_dir)}-f16.gguf"


def ensure_base_gguf(base_dir: Path, emit: Callable = lambda *a, **k: None) -> Path:
    """The shared f16 GGUF of `base_dir`, converting it first if no run has yet (written atomically)."""
    path = base_gguf_path(base_dir)
    if path.is_file():
        emit("stage", message=f"reusing the base model's GGUF {path}")
        return path
    emit("stage", message=f"converting the base model {Path(base_dir).name} to f16 GGUF (shared by its runs: {path})")
    path.parent.mkdir(parents=True, exist_ok=True)
    return convert_hf_to_gguf(base_dir, path, "f16", name=Path(base_dir).name)
