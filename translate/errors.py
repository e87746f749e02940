"""The one exception type for mistakes a user can fix (bad file, bad model, bad option).

The CLI turns a :class:`TranslateError` into a one-line message on stderr and a non-zero exit
code; any other exception is a bug in `translate` and keeps its traceback.
"""

from __future__ import annotations


class TranslateError(Exception):
    """A user-facing error: the message says what went wrong, which file, and what to do.

    ``exit_code`` is what the CLI exits with (2 by default: bad input or usage).
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
