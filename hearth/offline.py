"""Offline first: no connection leaves hearth unless the user names a hub model that is not on disk.

`apply()` runs first in every hearth process — the `hearth` CLI and each child entry (`python -m tuner`,
`python -m exporter`) — before the Hugging Face libraries are imported, and children inherit it:

- telemetry off for good: huggingface_hub's `send_telemetry` (which TRL's trainers call as they start;
  TRL has no switch of its own and honours these), and anything following the DO_NOT_TRACK convention;
- hub look-ups answered from disk (the local Hugging Face cache), never from the network;
- timeouts, so that a download that is allowed gives up in seconds instead of waiting forever.

The one exception is `hub_access()`, around the single download of a hub model the user named
(`tuner/hub.py`); `check_reachable` first makes an unreachable hub fail in seconds with one line.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from typing import Iterator
from urllib.parse import urlsplit

from hearth.errors import UserError

TELEMETRY_OFF = {
    "HF_HUB_DISABLE_TELEMETRY": "1",  # huggingface_hub.send_telemetry: TRL's trainers, transformers' examples
    "DO_NOT_TRACK": "1",  # the cross-tool convention; huggingface_hub reads it too
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",  # huggingface_hub's "a new version is out" look-ups
}
OFFLINE = {
    "HF_HUB_OFFLINE": "1",  # huggingface_hub (and transformers through it): cache only, no request
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
}
# Seconds; huggingface_hub's own default is no timeout at all on its HTTP client.
TIMEOUTS = {"HF_HUB_ETAG_TIMEOUT": "10", "HF_HUB_DOWNLOAD_TIMEOUT": "30"}
DEFAULT_ENDPOINT = "https://huggingface.co"
CONNECT_TIMEOUT_S = 5.0


def environment() -> dict[str, str]:
    """The variables every hearth process runs with."""
    return {**TELEMETRY_OFF, **OFFLINE, **TIMEOUTS}


def apply() -> None:
    """Put hearth's environment into this process (and so into every child it starts)."""
    os.environ.update(environment())
    _sync_loaded_hub(offline=True)


def _sync_loaded_hub(offline: bool) -> None:
    """huggingface_hub reads its environment once, at import: if it is already loaded, tell it directly."""
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is None:
        return
    constants.HF_HUB_OFFLINE = offline
    constants.HF_HUB_DISABLE_TELEMETRY = True


@contextlib.contextmanager
def hub_access() -> Iterator[None]:
    """Lift the offline mode for one explicit download, then put it back (telemetry stays off)."""
    saved = {key: os.environ.get(key) for key in OFFLINE}
    for key in OFFLINE:
        os.environ.pop(key, None)
    _sync_loaded_hub(offline=False)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is not None:
                os.environ[key] = value
        _sync_loaded_hub(offline=any(saved.values()))


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def check_reachable(url: str | None = None, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse in at most `timeout` seconds (per address) when the hub's host cannot be reached."""
    url = url or hub_endpoint()
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise UserError(f"the model hub at {url} cannot be reached ({why}); this machine looks offline") from None
