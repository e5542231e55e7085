"""The entry of every child job (`python -m tuner …`, `python -m exporter …`), so that each one speaks and ends
the same way to the front ends that run it (hearth.events.ChildJob).

stdout carries only events: for the job's lifetime `sys.stdout` points at stderr, so whatever a library prints
cannot corrupt the event stream. The job's result becomes the `done` event; anything else ends with one `error`
event and an exit code:

| what ended the job                                   | exit |
|------------------------------------------------------|------|
| nothing: it finished                                 | 0    |
| a `UserError` (bad input the user can fix)           | 2    |
| out of memory (`MemoryError`, torch's OOM)           | 3    |
| Ctrl-C / Cancel (SIGINT) outside training's handler  | 130  |
| anything else: a bug, its traceback on stderr        | 1    |
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import traceback
from typing import Callable

from hearth import offline
from hearth.errors import UserError
from hearth.events import DONE, ERROR, emit, route_events_to

EXIT_CRASH, EXIT_OUT_OF_MEMORY, EXIT_INTERRUPTED = 1, 3, 130


def _out_of_memory_types() -> tuple[type[BaseException], ...]:
    """MemoryError, and torch's OutOfMemoryError (a RuntimeError) where the job has imported torch at all."""
    torch = sys.modules.get("torch")
    torch_oom = getattr(torch, "OutOfMemoryError", None) or getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    return (MemoryError, torch_oom) if isinstance(torch_oom, type) else (MemoryError,)


def _out_of_memory_message(job: str, exc: BaseException) -> str:
    """A MemoryError raised by hearth already says what to do; torch's says only what it failed to allocate."""
    if isinstance(exc, MemoryError) and str(exc).strip():
        return str(exc)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{job} ran out of memory ({detail})"


def _cancellable() -> None:
    """Cancel is a SIGINT (ChildJob.cancel), so it must raise KeyboardInterrupt here even when the front end was
    started with SIGINT ignored (a background job of a script, some CI runners): a child inherits SIG_IGN, and
    Python then installs no handler of its own, so Cancel did nothing and the export ran on to the end."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def job_main(parser: argparse.ArgumentParser, run_job: Callable[[argparse.Namespace], dict],
             argv: list[str] | None = None) -> int:
    """Parse `argv` with `parser` (whose first positional is `job`, the job's name), run `run_job(args)` with
    stdout kept for events, and turn its result or its failure into the last event and the exit code."""
    offline.apply()  # before any Hugging Face library is imported: no telemetry, no hub look-ups
    _cancellable()
    args = parser.parse_args(argv)
    job = getattr(args, "job", parser.prog)
    events_stream = sys.stdout
    route_events_to(events_stream)
    sys.stdout = sys.stderr
    try:
        emit(DONE, **run_job(args))
        return 0
    except UserError as exc:
        emit(ERROR, message=str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        emit(ERROR, message="interrupted; nothing half-written was left behind")
        return EXIT_INTERRUPTED
    except _out_of_memory_types() as exc:  # evaluated as the exception arrives: torch may be imported by then
        emit(ERROR, message=_out_of_memory_message(job, exc))
        return EXIT_OUT_OF_MEMORY
    except Exception as exc:  # a bug: keep the traceback (on stderr, shown with --verbose)
        traceback.print_exc()
        emit(ERROR, message=f"{job} crashed: {type(exc).__name__}: {exc} (run with --verbose for the traceback)")
        return EXIT_CRASH
    finally:
        sys.stdout = events_stream
        route_events_to(None)
