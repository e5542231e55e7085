"""Running a command as a hostile user would meet it: in a child, with a time limit, reading how
much memory it (and its own children) used."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass

import psutil
import pytest

# Runs the command, then reports its exit code, output and peak RSS (children included) as JSON.
_WRAPPER = """
import json, resource, subprocess, sys
done = subprocess.run(json.loads(sys.argv[1]), input=sys.stdin.read(), capture_output=True, text=True)
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": done.returncode, "out": done.stdout, "err": done.stderr, "peak_mb": peak_kb / 1024}))
"""


@dataclass
class Bounded:
    rc: int
    out: str
    err: str
    peak_mb: float  # the largest resident set of the command or any process it started


def run_bounded(args: list[str], *, timeout: float, stdin: str = "") -> Bounded:
    """`args` in a child; a hang fails the test after `timeout` seconds instead of hanging the suite."""
    wrapper = subprocess.Popen([sys.executable, "-c", _WRAPPER, json.dumps(args)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        out, _ = wrapper.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        # Children may sit in sessions of their own (hearth's jobs do): kill them by ancestry.
        for process in [*psutil.Process(wrapper.pid).children(recursive=True), psutil.Process(wrapper.pid)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        wrapper.communicate()
        pytest.fail(f"{' '.join(args[:4])} … did not finish in {timeout} s")
    return Bounded(**json.loads(out))


def hearth(*args: str) -> list[str]:
    """The `hearth` CLI as a child process."""
    return [sys.executable, "-m", "tui.cli", *args]
