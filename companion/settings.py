"""How the engine loads a model and samples a reply: one dataclass, loadable from YAML, with the
CLI's flags as overrides (as every configuration in hearth is)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path

from hearth.errors import UserError


@dataclass
class EngineSettings:
    model_path: Path | None = None
    """The GGUF model file to load."""
    lora_path: Path | None = None
    """An optional GGUF LoRA adapter applied on top of the model at load time."""
    lora_scale: float = 1.0
    """Multiplier on the adapter's own alpha/r scale; 0 turns the adapter off."""
    n_ctx: int = 4096
    """Context window in tokens: prompt and reply together never exceed it."""
    n_threads: int | None = None
    """CPU threads for generation; None uses the physical core count."""
    n_gpu_layers: int | None = None
    """Layers offloaded to the GPU; -1 all, 0 none, None all when llama.cpp was built with GPU support."""
    n_batch: int = 512
    """Prompt tokens evaluated per batch."""
    temperature: float = 0.7
    """Sampling temperature; 0 picks the most likely token every time."""
    top_p: float = 0.9
    top_k: int = 40
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    max_reply_tokens: int = 512
    """Longest reply; this many tokens of the context are kept free for it."""
    seed: int = -1
    """Sampling seed; -1 picks a fresh one for every reply."""

    def __post_init__(self) -> None:
        for name in ("model_path", "lora_path"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                setattr(self, name, Path(value).expanduser())
        checks = (
            (self.n_ctx >= 64, "n_ctx must be at least 64 tokens"),
            (self.max_reply_tokens >= 1, "max_reply_tokens must be at least 1"),
            (self.max_reply_tokens < self.n_ctx, "max_reply_tokens must be smaller than n_ctx"),
            (self.temperature >= 0, "temperature must be 0 or more"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (self.n_threads is None or self.n_threads >= 1, "n_threads must be at least 1"),
        )
        for ok, message in checks:
            if not ok:
                raise UserError(f"{message} (got {self._describe()})", where="engine settings")

    def _describe(self) -> str:
        return ", ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))

    @property
    def threads(self) -> int:
        if self.n_threads:
            return self.n_threads
        try:
            import psutil

            return max(1, psutil.cpu_count(logical=False) or 1)
        except ImportError:  # psutil is a dependency; this only guards odd installs
            return max(1, (os.cpu_count() or 2) // 2)

    @property
    def gpu_layers(self) -> int:
        if self.n_gpu_layers is not None:
            return self.n_gpu_layers
        import llama_cpp

        return -1 if llama_cpp.llama_supports_gpu_offload() else 0

    def replace(self, **overrides) -> "EngineSettings":
        """A copy with the given fields changed; `None` values mean "not given" and are skipped."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(self, **given)

    def to_dict(self) -> dict:
        """JSON-ready, for storing with a chat so it can be reproduced."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = str(value) if isinstance(value, Path) else value
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "EngineSettings":
        """From `to_dict`'s output; keys a newer hearth stored and this one does not know are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "EngineSettings":
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise UserError("settings file not found; check the path", where=str(path)) from None
        except yaml.YAMLError as exc:
            raise UserError(f"not valid YAML ({exc.__class__.__name__}); fix the file", where=str(path)) from None
        if not isinstance(data, dict):
            raise UserError("expected a mapping of setting names to values", where=str(path))
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise UserError(
                f"unknown setting(s) {', '.join(sorted(unknown))}; known: " + ", ".join(f.name for f in fields(cls)),
                where=str(path),
            )
        return cls.from_dict(data)
