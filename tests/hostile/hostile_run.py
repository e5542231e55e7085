"""Running hearth as a hostile user would meet it: a real `hearth` process (and every child it starts),
with its own HEARTH_HOME, none of the offline variables hearth is meant to set itself, and the network
audit hook of net_audit/sitecustomize.py loaded into every Python process it starts.

`hearth(...)` returns what came out: exit code, output, each attempt to reach the network, and the peak
memory of the process tree. `one_line_error` asserts the contract for bad input: exit 2, one line, no
traceback. Run as root, the process drops the two capabilities that let root read and write through any
file mode (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so that a permission a test takes away is really missing.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent  # its modules can be run too (`module=`), e.g. kill_export_at_swap
AUDIT_HOOK = HERE / "net_audit"
# What hearth/offline.py sets: removed here, so a test sees hearth set them, not the test suite's conftest.
HEARTH_SETS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY",
               "DO_NOT_TRACK", "HF_HUB_DISABLE_UPDATE_CHECK", "HF_HUB_ETAG_TIMEOUT", "HF_HUB_DOWNLOAD_TIMEOUT")
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    connections: list[str] = field(default_factory=list)

    def one_line_error(self) -> str:
        """The contract for bad input: exit 2 and a single line on stderr, no traceback; returns that line."""
        shown = f"{self.args}: exit {self.returncode}\nstdout: {self.stdout[-1500:]}\nstderr: {self.stderr[-3000:]}"
        assert self.returncode == 2, shown
        assert "Traceback" not in self.stderr, shown
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, shown
        return lines[0]


def honour_file_modes() -> None:
    """In the child before exec: without these two capabilities root is refused what a file's mode refuses
    (they leave the bounding set, so neither the exec'd process nor its children get them back)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def hearth(args: list[str], home: Path, *, timeout: float = 300, stdin: str | None = None,
           env: dict[str, str] | None = None, module: str = "tui.cli") -> Result:
    """`hearth ARGS` (or `python -m MODULE ARGS`) in a subprocess; see the module docstring."""
    log = Path(tempfile.mkstemp(prefix="hearth-net-", suffix=".log")[1])
    peaks = Path(tempfile.mkstemp(prefix="hearth-peak-", suffix=".log")[1])
    environment = {k: v for k, v in os.environ.items() if k not in HEARTH_SETS}
    environment.update(HEARTH_HOME=str(home), HEARTH_TEST_NET_LOG=str(log), HEARTH_TEST_PEAK_LOG=str(peaks), COLUMNS="300", PYTHONUNBUFFERED="1",
                       PYTHONPATH=os.pathsep.join([str(AUDIT_HOOK), str(REPO), str(HERE)]), PYTHONDONTWRITEBYTECODE="1")
    environment.update(env or {})
    workdir = Path(tempfile.mkdtemp(prefix="hearth-cwd-"))  # must stay empty: nothing is written outside HEARTH_HOME
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", module, *args], cwd=str(workdir),
                                   stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL, stdout=out,
                                   stderr=err, env=environment, start_new_session=True, preexec_fn=honour_file_modes)
        if stdin is not None:
            process.stdin.write(stdin.encode("utf-8"))
            process.stdin.close()
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            os.killpg(process.pid, 9)

        killer = threading.Timer(timeout, kill)
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    connections = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    # the largest of the tree's own high-water marks (each process writes its own at exit)
    recorded = [int(line.split()[1]) for line in peaks.read_text(encoding="ascii").splitlines() if line.strip()]
    peaks.unlink(missing_ok=True)
    peak_mb = max(recorded) / 1024 if recorded else usage.ru_maxrss / 1024
    assert not timed_out.is_set(), f"{args} ran past {timeout} s:\n{stderr[-3000:]}"
    stray = sorted(p.name for p in workdir.iterdir())
    assert not stray, f"{args} wrote {stray} into its working directory"
    workdir.rmdir()
    return Result(list(args), process.returncode, stdout, stderr, peak_mb, connections)
