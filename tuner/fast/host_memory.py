"""This process's resident memory (RSS): now, free on the machine, and its peak over one call.

The CPU counterpart of `torch.cuda.max_memory_allocated`, for the token-budget probe on a machine
without a GPU. On Linux the kernel keeps the peak itself (VmHWM, which writing 5 to
/proc/self/clear_refs resets to the current RSS), so the peak is exact and costs nothing; elsewhere
a thread samples the RSS every few milliseconds while the call runs (a training step's peak, the
activations of every layer just before backward, lasts far longer than that).

Freed tensors go back to the C allocator, which may keep the pages; `release_host_memory` hands
them back to the kernel (glibc's `malloc_trim`), so a probe starts from what is really held.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import re
import threading
from collections.abc import Callable
from pathlib import Path

import psutil

SAMPLE_SECONDS = 0.002
_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def rss_bytes() -> int:
    return psutil.Process().memory_info().rss


def available_bytes() -> int:
    """What the machine can still give without swapping (free plus reclaimable caches)."""
    return psutil.virtual_memory().available


def _libc():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


_LIBC = _libc()


def release_host_memory() -> None:
    gc.collect()
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


def _kernel_peak_resettable() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _STATUS.exists()


def _kernel_peak() -> int:
    match = re.search(r"^VmHWM:\s+(\d+) kB", _STATUS.read_text(), re.MULTILINE)
    return int(match.group(1)) * 1024


def _sampled_peak(call: Callable[[], None]) -> int:
    peak = rss_bytes()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        process = psutil.Process()
        while not done.wait(SAMPLE_SECONDS):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        call()
    finally:
        done.set()
        sampler.join()
    return max(peak, rss_bytes())


def peak_rss_during(call: Callable[[], None]) -> int:
    """Peak resident bytes of this process while `call()` runs (from its current RSS on)."""
    release_host_memory()
    if not _kernel_peak_resettable():
        return _sampled_peak(call)
    call()
    return _kernel_peak()
