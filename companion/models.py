"""Which GGUF file to talk to: a path, a run (its `gguf/` folder), or — when none is named — the
newest run that has been exported."""

from __future__ import annotations

from pathlib import Path

from hearth.errors import UserError

# When a run holds several quantizations, the first one found here is chosen: small and fast first,
# full precision last (a laptop talks to the quantized file).
QUANT_PREFERENCE = ("q4_k_m", "q8_0", "q5_k_m", "q6_k", "q4_0", "q5_0", "bf16", "f16", "f32")
ADAPTER_SUFFIX = "-lora"


def _quant_of(path: Path) -> str:
    return path.stem.rsplit("-", 1)[-1].lower()


def model_files(folder: Path) -> list[Path]:
    """The model GGUFs in a folder (LoRA adapters left out), best first."""
    files = [p for p in folder.glob("*.gguf") if not p.stem.lower().endswith(ADAPTER_SUFFIX)]
    rank = {quant: i for i, quant in enumerate(QUANT_PREFERENCE)}
    return sorted(files, key=lambda p: (rank.get(_quant_of(p), len(rank)), p.name))


def adapter_file(folder: Path) -> Path | None:
    adapters = sorted(p for p in folder.glob("*.gguf") if p.stem.lower().endswith(ADAPTER_SUFFIX))
    return adapters[0] if adapters else None


def resolve_model(name: str | None) -> Path:
    """A GGUF path, a run id or run folder, or (None) the newest exported run."""
    from hearth.paths import resolve_run, runs_dir

    if name is None:
        runs = sorted((p for p in runs_dir().glob("*/gguf") if model_files(p)), key=lambda p: p.stat().st_mtime)
        if not runs:
            raise UserError("no model named and no exported run found; pass --model FILE.gguf or a run id")
        return model_files(runs[-1])[0]
    candidate = Path(name).expanduser()
    if candidate.is_file():
        if candidate.suffix.lower() != ".gguf":
            raise UserError("not a .gguf file; export the model first (`hearth export RUN`)", where=str(candidate))
        return candidate
    if candidate.is_dir() and model_files(candidate):
        return model_files(candidate)[0]
    run = resolve_run(name)
    found = model_files(run.gguf) if run.gguf.is_dir() else []
    if not found:
        raise UserError(f"run has no GGUF model yet; export it first (`hearth export {name}`)", where=str(run.root))
    return found[0]
