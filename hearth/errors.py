"""One exception for every mistake a user can fix.

The CLI turns a `UserError` into one line on stderr and exit code 2, without a traceback
(the traceback appears with `--debug`). Anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """Bad input the user can fix: say what, where, and what to do, in one sentence."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None):
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)
