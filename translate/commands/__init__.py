"""CLI subcommands: each module defines ``register(subparsers)`` and imports torch lazily; the
helpers here are what several subcommands print the same way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Print ``rows`` as a plain-text table of ``columns`` (upper-case headers, left-aligned,
    two spaces between columns, no trailing spaces): `translate zoo list`, `translate data list`."""
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip())
