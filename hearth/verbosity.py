"""Whether the user asked to see the libraries' own logging (`hearth --verbose`): llama.cpp's, the trainer's,
the Hugging Face libraries' progress bars, and every child job's stderr.

The CLI switches it on once, at the start; it lives in the environment (HEARTH_VERBOSE=1) so that every child
job (hearth.events.ChildJob) inherits the same answer without a flag of its own.
"""

from __future__ import annotations

import os

ENV_VAR = "HEARTH_VERBOSE"


def set_verbose() -> None:
    """Show the libraries' logging from now on, here and in every child started after this."""
    os.environ[ENV_VAR] = "1"


def verbose() -> bool:
    return os.environ.get(ENV_VAR) == "1"
