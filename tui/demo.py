"""`make demo`: the whole journey offline on the embedded tiny base, as a table of steps.

Each step takes the shared state (a dict) and prints what it made and where. Later stages add a row.
"""

from __future__ import annotations

import time
from typing import Callable

from rich.console import Console
from rich.rule import Rule

console = Console(highlight=False)


def step_base(state: dict) -> None:
    from tuner.tiny_base import ensure_tiny_base

    state["base"] = ensure_tiny_base()
    console.print(f"tiny Qwen2 base: {state['base']}")


def step_train(state: dict) -> None:
    from tui.commands.train import new_run
    from tui.progress import run_job
    from tuner.recipe import load_recipe

    run = new_run(load_recipe("tiny-offline"))
    state["run"] = run
    console.print(f"run {run.root.name}: LoRA on the built-in 林栀 dialogues (recipe tiny-offline)")
    done = run_job("tuner", ["train", str(run.root)], "training")
    console.print(f"adapter: {done['adapter']} (train loss {done['train_loss']:.3f}); metrics: {run.metrics}")


def step_merge(state: dict) -> None:
    from tuner.merge import merge_run

    console.print(f"merged model: {merge_run(state['run'])}")


def step_export(state: dict) -> None:
    from exporter.export import summary_text
    from tui.progress import run_job

    run = state["run"]
    done = run_job("exporter", ["export", str(run.root), "--quant", "q8_0"], "exporting")
    console.print(summary_text(done))
    if not done.get("passed"):
        raise SystemExit("the exported GGUF did not pass verification (see above)")
    state["gguf"] = run.gguf


def step_chat(state: dict) -> None:
    from companion.models import resolve_model
    from tui.commands.chat import demo_chat

    state["model"] = resolve_model(str(state["run"].root))
    demo_chat(state["model"], console)


def step_tarot(state: dict) -> None:
    from tui.commands.tarot import demo_reading

    demo_reading(state["model"], console)


STEPS: list[tuple[str, Callable[[dict], None]]] = [
    ("1. the offline base model", step_base),
    ("2. fine-tune 林栀's voice", step_train),
    ("3. merge the adapter", step_merge),
    ("4. export to GGUF (q8_0) and verify it", step_export),
    ("5. talk to 林栀 offline (llama-cpp-python)", step_chat),
    ("6. a tarot reading, stored with its cards", step_tarot),
]


def run_demo() -> int:
    state: dict = {}
    started = time.perf_counter()
    for title, step in STEPS:
        console.print(Rule(title))
        step(state)
    console.print(Rule())
    console.print(f"demo finished in {time.perf_counter() - started:.0f}s; everything is under {state['run'].root.parent.parent}")
    return 0
