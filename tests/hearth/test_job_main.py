"""Every child job ends the same way: one last event on stdout, nothing else there, and an exit code by cause."""

from __future__ import annotations

import argparse
import json

import pytest

from hearth.errors import UserError
from hearth.events import emit
from hearth.job_main import job_main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m demo-job")
    parser.add_argument("job")
    return parser


def _run(job, capsys) -> tuple[int, list[dict], str]:
    code = job_main(_parser(), job, ["work"])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_a_finished_job_says_done_with_its_result_and_library_prints_go_to_stderr(capsys):
    def job(args):
        print("a library talking")  # must not reach the event stream
        emit("stage", message=f"{args.job} going")
        return {"path": "out.gguf"}

    code, events, err = _run(job, capsys)
    assert code == 0
    assert [e["event"] for e in events] == ["stage", "done"] and events[-1]["path"] == "out.gguf"
    assert "a library talking" in err


def _raising(exc):
    def job(args):
        raise exc
    return job


@pytest.mark.parametrize("exc, code, message", [
    (UserError("no such run", where="runs/x"), 2, "runs/x: no such run"),
    (MemoryError("out of memory at step 2; lower train.batch_size"), 3, "out of memory at step 2; lower train.batch_size"),
    (MemoryError(), 3, "work ran out of memory (MemoryError)"),
    (KeyboardInterrupt(), 130, "interrupted; nothing half-written was left behind"),
])
def test_each_failure_is_one_error_event_and_its_exit_code(exc, code, message, capsys):
    got, events, _ = _run(_raising(exc), capsys)
    assert got == code
    assert events == [{"event": "error", "time": events[0]["time"], "message": message}]


def test_torch_out_of_memory_is_out_of_memory_too(capsys):
    torch = pytest.importorskip("torch")
    got, events, _ = _run(_raising(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore")),
                          capsys)
    assert got == 3
    assert events[-1]["message"] == "work ran out of memory (CUDA out of memory. Tried to allocate 2.00 GiB)"


def test_a_bug_keeps_its_traceback_on_stderr_and_names_the_job(capsys):
    got, events, err = _run(_raising(ValueError("bad index")), capsys)
    assert got == 1
    assert events[-1]["event"] == "error" and events[-1]["message"].startswith("work crashed: ValueError: bad index")
    assert "Traceback" in err and "ValueError: bad index" in err


def test_stdout_is_given_back_after_the_job(capsys):
    import sys

    before = sys.stdout
    _run(_raising(ValueError("x")), capsys)
    assert sys.stdout is before


# A job whose process starts with SIGINT ignored, as the child of a front end started in the background does; it
# signals itself as Cancel would, then works on.
IGNORING_CHILD = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
import argparse
from hearth.job_main import job_main
parser = argparse.ArgumentParser(prog="python -m demo-job")
parser.add_argument("job")
def job(args):
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(30)
    return {"finished": True}
sys.exit(job_main(parser, job, ["work"]))
"""


def test_cancel_interrupts_a_job_that_started_with_sigint_ignored():
    import subprocess
    import sys

    child = subprocess.run([sys.executable, "-c", IGNORING_CHILD], capture_output=True, text=True, timeout=25)
    events = [json.loads(line) for line in child.stdout.splitlines()]
    assert child.returncode == 130, child.stderr[-1000:]
    assert events[-1]["event"] == "error" and "interrupted" in events[-1]["message"]

