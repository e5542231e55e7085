"""`hearth train`, `hearth merge RUN`, `hearth runs`: training runs on disk.

Training runs in a child process (`python -m tuner train`) whose events are drawn here; a crash or
out-of-memory there never takes this process down, and Ctrl-C asks it to save and stop.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hearth.errors import UserError
from hearth.paths import RunPaths, resolve_run, runs_dir
from tuner.runs import RunRequest, create_run

console = Console(highlight=False)


def run_request(args) -> RunRequest:
    """`hearth train`'s flags as the request the run service checks."""
    return RunRequest(recipe=args.recipe, data=list(args.data or []), base=args.base, max_steps=args.max_steps,
                      epochs=args.epochs, learning_rate=args.learning_rate, format=args.format, method=args.method,
                      start_from=args.start_from, system_prompt=args.system_prompt, overrides=list(args.set or []))


def train(args) -> int:
    from tui.progress import run_job

    if args.resume:
        run = resolve_run(args.resume)
        job = ["train", str(run.root), "--resume"]
    else:
        run = create_run(run_request(args))
        job = ["train", str(run.root)]
    console.print(f"run [bold]{run.root.name}[/] in {run.root}")
    try:
        done = run_job("tuner", job, f"training {run.root.name}", launcher=data_parallel_launcher(args.processes))
    except UserError:
        if not args.resume and run.latest_checkpoint() is None:
            shutil.rmtree(run.root, ignore_errors=True)  # refused before it trained: leave no empty run behind
        raise
    if done.get("cancelled"):
        console.print(f"stopped at step {done['step']}; resume with [bold]hearth train --resume {run.root.name}[/]")
        return 130
    console.print(f"adapter saved: {done['adapter']} (step {done['step']}, train loss {done['train_loss']:.4f})")
    console.print(f"next: [bold]hearth merge {run.root.name}[/]")
    return 0


def data_parallel_launcher(processes: int) -> list[str]:
    """The same training child under torchrun for several processes (one per GPU; gloo on CPU)."""
    if processes < 1:
        raise UserError(f"--processes must be at least 1, not {processes}")
    return [] if processes == 1 else ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]


def merge(args) -> int:
    from tuner.merge import merge_run

    run = resolve_run(args.run)
    with console.status(f"merging the adapter of {run.root.name} into its base"):
        merged = merge_run(run)
    console.print(f"merged model: {merged}")
    return 0


# `hearth runs`' columns: the run id (what every other command takes, and it starts with the recipe's name) and the
# short marks are never cut; on a narrow terminal the GGUF list wraps.
RUN_COLUMNS = (("run", {"no_wrap": True}), ("method", {"no_wrap": True}),
               ("steps", {"no_wrap": True, "justify": "right"}), ("adapter", {"no_wrap": True}),
               ("merged", {"no_wrap": True}), ("gguf", {}))


def list_runs(args) -> int:
    table = Table()
    for name, options in RUN_COLUMNS:
        table.add_column(name, **options)
    root = runs_dir()
    for path in sorted(root.iterdir()) if root.exists() else []:
        run = RunPaths(path)
        if not run.recipe.exists():
            continue
        ggufs = ", ".join(p.stem.removeprefix(f"{path.name}-") for p in sorted(run.gguf.glob("*.gguf"))) \
            if run.gguf.exists() else ""
        table.add_row(path.name, run.method(), str(run.last_step()), _mark(run.adapter),
                      _mark(run.merged), ggufs)
    console.print(table if table.row_count else "no runs yet; `hearth train` starts one")
    return 0


def _mark(path: Path) -> str:
    return "yes" if path.exists() else "-"


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="fine-tune a base model with LoRA/QLoRA")
    parser.add_argument("--recipe", help="built-in recipe name or a recipe YAML file (default: the --from run's "
                                          "recipe, else smollm2-cpu once `hearth base smollm2` has run, else tiny-offline)")
    parser.add_argument("--data", nargs="+", metavar="FILE", help="dataset files (override the recipe's)")
    parser.add_argument("--format", help="data format: auto, messages, sharegpt, alpaca, tarot, preference, kto")
    parser.add_argument("--method", choices=("sft", "dpo", "kto"),
                        help="sft: learn the replies; dpo: pairs, chosen over rejected; kto: rated replies "
                             "(pairs or KTO rows from `hearth history export-preferences`)")
    parser.add_argument("--from", dest="start_from", metavar="RUN",
                        help="start from this tuned run's merged model (DPO/KTO after SFT; merged first if need be)")
    parser.add_argument("--base", help="base model: local directory, name under HEARTH_HOME/models, or hub id")
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--epochs", type=float)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--system-prompt", help="the persona's system prompt (saved with the run)")
    parser.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE", help="override any recipe field")
    parser.add_argument("--resume", metavar="RUN", help="continue a run from its last checkpoint")
    parser.add_argument("--processes", type=int, default=1, metavar="N",
                        help="data-parallel training processes, one per GPU (DDP through torchrun)")
    parser.set_defaults(func=train)
    merge_parser = subparsers.add_parser("merge", help="merge a run's adapter into its base (16-bit)")
    merge_parser.add_argument("run", metavar="RUN")
    merge_parser.set_defaults(func=merge)
    subparsers.add_parser("runs", help="list training runs").set_defaults(func=list_runs)
