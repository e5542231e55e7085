"""Child-process entry for long jobs: `python -m tuner train RUN_DIR [--resume]`, `python -m tuner merge RUN_DIR`,
`python -m tuner eval RUN_DIR [-n N] [--seed S] [--prompts FILE] [--gguf FILE]... [--quant q4_k_m,...]`.

Prints one JSON event per line on stdout (hearth.events); the library's own chatter goes to stderr.
Exit codes: 0 done, 2 bad input (UserError), 3 out of memory, 1 a crash (traceback on stderr).
"""

from __future__ import annotations

import argparse
import sys
import traceback

from hearth import offline
from hearth.errors import UserError
from hearth.events import emit, route_events_to
from hearth.paths import RunPaths
from tuner.quiet import quiet_hf_libraries


def main(argv: list[str] | None = None) -> int:
    offline.apply()  # before any Hugging Face library is imported: no telemetry, no hub look-ups
    parser = argparse.ArgumentParser(prog="python -m tuner")
    parser.add_argument("job", choices=("train", "merge", "eval"))
    parser.add_argument("run", metavar="RUN_DIR")
    parser.add_argument("--resume", action="store_true")
    evaluation = parser.add_argument_group("eval")
    evaluation.add_argument("-n", type=int, default=None, help="prompts to answer")
    evaluation.add_argument("--seed", type=int, default=0)
    evaluation.add_argument("--prompts", default=None, help="a JSON-lines prompts file instead of the held-out data")
    evaluation.add_argument("--gguf", action="append", default=[], help="a GGUF side (repeatable)")
    evaluation.add_argument("--quant", default="", help="the run's own GGUFs as sides: q4_k_m,q8_0,...")
    evaluation.add_argument("--max-tokens", type=int, default=None, help="reply budget (default: from the data)")
    evaluation.add_argument("--loss-tokens", type=int, default=None, help="held-out tokens scored (default 2048)")
    args = parser.parse_args(argv)
    run = RunPaths(args.run)
    # Everything the libraries print goes to stderr; stdout carries only events.
    events_stream = sys.stdout
    route_events_to(events_stream)
    sys.stdout = sys.stderr
    try:
        quiet_hf_libraries()
        if args.job == "train":
            from tuner.train import run_training

            result = run_training(run, resume=args.resume)
        elif args.job == "merge":
            from tuner.merge import merge_run

            result = {"merged": merge_run(run)}
        else:
            result = {"report": _evaluate(run, args).to_json()}
        emit("done", **result)
        return 0
    except UserError as exc:
        emit("error", message=str(exc))
        return 2
    except MemoryError as exc:
        emit("error", message=str(exc))
        return 3
    except Exception as exc:  # a bug: keep the traceback for --debug / --verbose
        traceback.print_exc()
        emit("error", message=f"{args.job} crashed: {type(exc).__name__}: {exc} (run with --verbose for the traceback)")
        return 1
    finally:
        sys.stdout = events_stream
        route_events_to(None)


def _evaluate(run: RunPaths, args):
    from tuner.evaluate import DEFAULT_PROMPTS, evaluate_run
    from tuner.evaluate.loss import LOSS_MAX_TOKENS

    quants = [q.strip() for q in args.quant.split(",") if q.strip()]
    return evaluate_run(run, prompts=DEFAULT_PROMPTS if args.n is None else args.n, ggufs=args.gguf, quants=quants,
                        prompts_file=args.prompts, seed=args.seed, max_new_tokens=args.max_tokens,
                        loss_tokens=args.loss_tokens or LOSS_MAX_TOKENS, emit=emit)


if __name__ == "__main__":
    sys.exit(main())
