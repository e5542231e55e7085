"""`python -m exporter export RUN --quant f16`, killed outright (as when its parent is killed together with it) the
moment it first renames the run's gguf/ folder: the window in which an existing export is being replaced."""

import os
import signal
import sys
from pathlib import Path

_replace = os.replace


def _replace_or_die(src, dst, *args, **kwargs):
    if "gguf" in (Path(src).name, Path(dst).name):
        os.kill(os.getpid(), signal.SIGKILL)
    return _replace(src, dst, *args, **kwargs)


os.replace = _replace_or_die

if __name__ == "__main__":
    from exporter.__main__ import main

    sys.exit(main(["export", sys.argv[1], "--quant", "f16"]))
