"""`hearth eval RUN`: did it learn the voice? The tuned model against its base (and its GGUFs) on the run's held-out
conversations, measured, with the replies side by side; `hearth eval --compare RUN_A RUN_B` sets two runs' evals
next to each other.

The eval runs as a child process (`python -m tuner eval RUN_DIR`) whose events are drawn here; it writes
runs/<id>/eval/eval.json and eval.md.
"""

from __future__ import annotations

from rich.console import Console

from hearth.errors import UserError
from hearth.paths import RunPaths, resolve_run

console = Console(highlight=False)


def run_eval(run, *, prompts: int | None = None, seed: int = 0, prompts_file=None, ggufs=(), quant: str = "",
             max_tokens: int | None = None, loss_tokens: int | None = None, title: str = "eval"):
    """Evaluate one run (a RunPaths, an id or a directory) in a child process and return its EvalReport; the demo
    calls this too, and draws it with tui.eval_view.print_eval."""
    from tui.progress import run_job
    from tuner.evaluate import DEFAULT_PROMPTS, EvalReport
    from tuner.evaluate.run import check_inputs, eval_args

    paths = run if isinstance(run, RunPaths) else resolve_run(run)
    quants = [q.strip() for q in quant.split(",") if q.strip()]
    made, quants = _quantize_missing(paths, quants)
    ggufs = [*ggufs, *made]
    check_inputs(paths, prompts_file, ggufs, quants, DEFAULT_PROMPTS if prompts is None else prompts)  # bad input: one line and exit 2, before a model loads
    args = eval_args(paths.root, prompts=prompts, seed=seed, prompts_file=prompts_file, ggufs=ggufs, quants=quants,
                     max_tokens=max_tokens, loss_tokens=loss_tokens)
    return EvalReport.from_json(run_job("tuner", args, title)["report"])


def _quantize_missing(run: RunPaths, quants: list[str]) -> tuple[list[str], list[str]]:
    """A quantization the run was not exported with is made from its f16 GGUF into eval/ (llama.cpp's quantizer,
    as `hearth quantize` does), so `--quant q4_k_m` works after a q8_0-only export. Returns (made, still asked)."""
    from exporter.quantize import QUANT_TYPES
    from tui.progress import run_job

    f16 = run.gguf / f"{run.root.name}-f16.gguf"
    made, asked = [], []
    for qtype in quants:
        exported = run.gguf / f"{run.root.name}-{qtype}.gguf"
        target = run.root / "eval" / exported.name
        if exported.is_file() or not f16.is_file() or qtype not in QUANT_TYPES:
            asked.append(qtype)  # exported already, or eval's own check names what is missing
            continue
        if not target.is_file():
            run_job("exporter", ["quantize", str(f16), str(target), "--type", qtype], f"quantize {qtype}")
        made.append(str(target))
    return made, asked


def evaluate(args) -> int:
    from tui.eval_view import compare_table, print_eval

    options = dict(prompts=args.n, seed=args.seed, prompts_file=args.prompts, ggufs=args.gguf or (),
                   quant=args.quant or "", max_tokens=args.max_tokens, loss_tokens=args.loss_tokens)
    if args.compare:
        if args.run:
            raise UserError("give either RUN or --compare RUN_A RUN_B, not both")
        from tuner.evaluate.compare import compare_reports

        if args.gguf or args.quant:
            raise UserError("--compare measures the two runs' tuned models; --gguf and --quant are for one run")
        first, second = (run_eval(run, title=f"eval {run}", **options) for run in args.compare)
        console.print(compare_table(compare_reports(first, second)))
        return 0
    if not args.run:
        raise UserError("name a run to evaluate (`hearth runs` lists them), or --compare RUN_A RUN_B")
    report = run_eval(args.run, **options)
    print_eval(console, report)
    console.print(f"wrote {resolve_run(args.run).root / 'eval' / 'eval.json'} and eval.md")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="a run's tuned model against its base, measured side by side")
    p.add_argument("run", nargs="?", help="run id or run directory")
    p.add_argument("--compare", nargs=2, metavar=("RUN_A", "RUN_B"), help="two runs' evals side by side")
    p.add_argument("-n", type=int, default=None, help="prompts to answer (default 4)")
    p.add_argument("--seed", type=int, default=0, help="which prompts, and the sampling seed of every side")
    p.add_argument("--prompts", metavar="FILE", help="JSON lines: {messages} or {prompt, reference?} per line")
    p.add_argument("--gguf", action="append", metavar="FILE", help="a GGUF file as one more side (repeatable)")
    p.add_argument("--quant", metavar="TYPES", help="the run's exported GGUFs as sides, e.g. q4_k_m,q8_0")
    p.add_argument("--max-tokens", type=int, help="one reply budget in tokens for every reply (default: each reply twice its own reference, 48-512)")
    p.add_argument("--loss-tokens", type=int, help="held-out tokens the loss is measured on (default 2048)")
    p.set_defaults(func=evaluate)
