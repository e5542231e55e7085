"""Child-process entry for long jobs: `python -m tuner train RUN_DIR [--resume]`, `python -m tuner merge RUN_DIR`,
`python -m tuner eval RUN_DIR [-n N] [--seed S] [--prompts FILE] [--gguf FILE]... [--quant q4_k_m,...]`.

Prints one JSON event per line on stdout (hearth.events); the library's own chatter goes to stderr.
The last event and the exit code say how it ended, as for every job (hearth/job_main.py).
"""

from __future__ import annotations

import argparse
import sys

from hearth.events import emit
from hearth.job_main import job_main
from hearth.paths import RunPaths
from tuner.quiet import quiet_hf_libraries


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tuner")
    parser.add_argument("job", choices=tuple(JOBS))
    parser.add_argument("run", metavar="RUN_DIR")
    parser.add_argument("--resume", action="store_true")
    evaluation = parser.add_argument_group("eval")
    evaluation.add_argument("-n", type=int, default=None, help="prompts to answer")
    evaluation.add_argument("--seed", type=int, default=0)
    evaluation.add_argument("--prompts", default=None, help="a JSON-lines prompts file instead of the held-out data")
    evaluation.add_argument("--gguf", action="append", default=[], help="a GGUF side (repeatable)")
    evaluation.add_argument("--quant", default="", help="the run's own GGUFs as sides: q4_k_m,q8_0,...")
    evaluation.add_argument("--max-tokens", type=int, default=None, help="one reply budget for all (default: twice each reference)")
    evaluation.add_argument("--loss-tokens", type=int, default=None, help="held-out tokens scored (default 2048)")
    return parser


def _train(run: RunPaths, args) -> dict:
    from tuner.train import run_training

    return run_training(run, resume=args.resume)


def _merge(run: RunPaths, args) -> dict:
    from tuner.merge import merge_run

    return {"merged": merge_run(run)}


def _eval(run: RunPaths, args) -> dict:
    from tuner.evaluate import DEFAULT_PROMPTS, evaluate_run
    from tuner.evaluate.loss import LOSS_MAX_TOKENS

    quants = [q.strip() for q in args.quant.split(",") if q.strip()]
    report = evaluate_run(run, prompts=DEFAULT_PROMPTS if args.n is None else args.n, ggufs=args.gguf, quants=quants,
                          prompts_file=args.prompts, seed=args.seed, max_new_tokens=args.max_tokens,
                          loss_tokens=args.loss_tokens or LOSS_MAX_TOKENS, emit=emit)
    return {"report": report.to_json()}


JOBS = {"train": _train, "merge": _merge, "eval": _eval}


def run_job(args) -> dict:
    quiet_hf_libraries()
    return JOBS[args.job](RunPaths(args.run), args)


def main(argv: list[str] | None = None) -> int:
    return job_main(build_parser(), run_job, argv)


if __name__ == "__main__":
    sys.exit(main())
