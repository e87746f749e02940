"""The one exception type for mistakes a user can fix (bad file, bad model, bad option).

The CLI turns a :class:`TranslateError` into a one-line message on stderr and a non-zero exit
code; any other exception is a bug in `translate` and keeps its traceback. :func:`printable`
is how every message and file name reaches a terminal: on one line, encodable anywhere.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


class TranslateError(Exception):
    """A user-facing error: the message says what went wrong, which file, and what to do.

    ``exit_code`` is what the CLI exits with (2 by default: bad input or usage). ``stop_batch``
    says the error concerns every file of a batch, not the one being processed (a full disk, a
    model that does not match its card), so a folder run stops instead of repeating it per file.
    """

    def __init__(self, message: str, exit_code: int = 2, *, stop_batch: bool = False):
        super().__init__(message)
        self.exit_code = exit_code
        self.stop_batch = stop_batch

    def __str__(self) -> str:
        # Subclasses that are also OSError (fileio.WriteError) would otherwise print "[Errno N] ...".
        return str(self.args[0]) if self.args else ""


def printable(text: object) -> str:
    """``text`` as one line that any terminal encoding can print: control and other invisible
    characters (newline, escape, bidi overrides) are shown escaped as in ``repr``, and the bytes
    of a non-UTF-8 file name (decoded by Python as lone surrogates) as ``\\xNN``.

    File names come from users and their disks: a newline would split a message in two, an
    escape sequence could rewrite the terminal, and a lone surrogate makes a strict UTF-8
    ``print`` raise after the work is done.
    """
    out = []
    for ch in str(text):
        if ch.isprintable() or ch == " ":
            out.append(ch)
        elif "\udc80" <= ch <= "\udcff":  # os.fsdecode's surrogateescape of an undecodable byte
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:
            out.append(ascii(ch)[1:-1])
    return "".join(out)


def shorten(text: object, width: int = 80) -> str:
    """``text`` cut to at most ``width`` characters, ending in "..." when cut: how an error line
    quotes a string that comes from a user's file (a state dict key, a pickled name)."""
    text = str(text)
    return text if len(text) <= width else text[:width - 3] + "..."


def few(items: Iterable[object], limit: int = 3, width: int = 80) -> str:
    """The first ``limit`` of ``items``, each :func:`shorten` to ``width``, then "... and N more":
    a list from a user's file quoted in a one-line error of bounded length (<= ~4 * ``width``)."""
    items = list(items)
    more = f", ... and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(shorten(item, width) for item in items[:limit]) + more


def is_out_of_memory(e: BaseException) -> bool:
    """PyTorch reports a failed allocation as a RuntimeError (CPU) or OutOfMemoryError (CUDA), and
    onnxruntime as its own error with the same words: tell it by its text."""
    text = str(e).lower()
    return "out of memory" in text or "can't allocate memory" in text or "failed to allocate" in text


def check_number(value: float, low: float | None = None, high: float | None = None, above: float | None = None,
                 below: float | None = None) -> None:
    """Raise ValueError ("must be >= 1") unless ``value`` is finite and ``low`` <= value <= ``high``,
    ``above`` < value < ``below`` (bounds that are None do not apply). The one range rule of every
    numeric option: train configs (:func:`translate.train.config.check_value`) and `translate convert`."""
    if isinstance(value, float) and not math.isfinite(value):  # (math.isfinite overflows on huge ints)
        raise ValueError("must be a finite number")
    for bound, broken, rule in ((low, lambda b: value < b, ">="), (above, lambda b: value <= b, ">"),
                                (high, lambda b: value > b, "<="), (below, lambda b: value >= b, "<")):
        if bound is not None and broken(bound):
            raise ValueError(f"must be {rule} {bound}")
