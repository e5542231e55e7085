"""`hearth base tiny|list`: the offline base models under HEARTH_HOME/models."""

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
    sub.add_parser("list", help="list local base models").set_defaults(func=list_models)
