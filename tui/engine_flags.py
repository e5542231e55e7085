"""The engine settings a command-line flag can override (`hearth chat`, `hearth tarot read`), and the settings a
command runs with: a settings file or a stored chat's, then the flags on top."""

from __future__ import annotations

import argparse
from pathlib import Path

# Engine settings a flag can override: (flag, settings field, type, help).
ENGINE_FLAGS = (
    ("--ctx", "n_ctx", int, "context window in tokens"),
    ("--threads", "n_threads", int, "CPU threads (default: physical cores)"),
    ("--gpu-layers", "n_gpu_layers", int, "layers on the GPU (-1 all, 0 none; default: all when available)"),
    ("--temperature", "temperature", float, "sampling temperature (0: always the likeliest token)"),
    ("--top-p", "top_p", float, "nucleus sampling threshold"),
    ("--top-k", "top_k", int, "sample among the k likeliest tokens"),
    ("--repeat-penalty", "repeat_penalty", float, "penalty on recently used tokens"),
    ("--max-tokens", "max_reply_tokens", int, "longest reply in tokens"),
    ("--seed", "seed", int, "sampling seed (-1: a new one per reply)"),
    ("--lora-scale", "lora_scale", float, "strength of the --lora adapter"),
)


def engine_settings(args: argparse.Namespace, stored: dict | None = None):
    from companion.models import resolve_model
    from companion.settings import EngineSettings

    if getattr(args, "settings", None):
        base = EngineSettings.from_yaml(args.settings)
    elif stored:
        base = EngineSettings.from_dict(stored)
    else:
        base = EngineSettings()
    model = args.model
    if model is None and base.model_path is not None and base.model_path.is_file():
        model_path = base.model_path  # resuming: the chat's own model
    else:
        model_path = resolve_model(model)
    overrides = {field: getattr(args, field, None) for _, field, _, _ in ENGINE_FLAGS}
    lora = Path(args.lora).expanduser() if getattr(args, "lora", None) else None
    return base.replace(model_path=model_path, lora_path=lora, **overrides)
