"""Loaded by every Python process of a hostile test (its folder is put first on PYTHONPATH): an audit hook that
writes each attempt to reach a non-loopback address to $HEARTH_TEST_NET_LOG and refuses it, so a test can show
that a command and every child it starts never reach for the network."""

import ipaddress
import os
import sys

LOG = os.environ.get("HEARTH_TEST_NET_LOG")
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _is_local(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").lower()
    if host in LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return False  # a name that is not ours: resolving it already asks the network
    return address.is_loopback or address.is_unspecified


def _target(event: str, args):
    if event == "socket.getaddrinfo":
        return args[0], args[1]
    if event in ("socket.connect", "socket.sendto"):
        address = args[-1]
        if isinstance(address, (str, bytes)):  # an AF_UNIX path
            return None
        return address[0], address[1]
    if event == "socket.gethostbyname":
        return args[0], None
    return None


def _audit(event: str, args) -> None:
    if not event.startswith("socket."):
        return
    target = _target(event, args)
    if target is None or _is_local(target[0]):
        return
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()} {event} {target[0]}:{target[1]} {' '.join(sys.argv[:3])}\n")
    raise OSError(101, f"network blocked by the hostile tests: {event} {target[0]}")


if LOG:
    sys.addaudithook(_audit)


# Peak memory of this process alone: the kernel's high-water mark of its own address space (VmHWM), written at
# exit to $HEARTH_TEST_PEAK_LOG. wait4's ru_maxrss would not do: Linux carries the parent's resident size into a
# forked child's maximum, so a child of a large pytest process reports at least that much whatever it does.
PEAK_LOG = os.environ.get("HEARTH_TEST_PEAK_LOG")
if PEAK_LOG:
    import atexit

    def _record_peak() -> None:
        try:
            with open("/proc/self/status", encoding="ascii") as status:
                kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
            with open(PEAK_LOG, "a", encoding="ascii") as log:
                log.write(f"{os.getpid()} {kib}\n")
        except (OSError, StopIteration, ValueError):
            pass

    atexit.register(_record_peak)
