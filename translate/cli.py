"""The `translate` command line: one subcommand per module in :mod:`translate.commands`.

Subcommand modules are imported at start-up and must not import torch at module level (the
ONNX path of `translate run` never imports it); each handler imports what it needs.
A :class:`~translate.errors.TranslateError` becomes a one-line message and its exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from translate.errors import TranslateError, printable
from translate.version import DISTRIBUTION, __version__

SUBCOMMANDS = ("run", "serve", "train", "eval", "export", "convert", "zoo", "data")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="translate",
        description="Image-to-image translation with GANs: run, train, export and convert.",
    )
    parser.add_argument("--version", action="version",
                        version=f"translate {__version__} ({DISTRIBUTION}: image-to-image translation with GANs)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"translate.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"translate.commands.{name}":
                continue  # subcommand not built yet
            raise
        module.register(sub)
    return parser


def _never_fail_to_print() -> None:
    # A character the terminal's encoding lacks (a non-UTF-8 file name under a strict UTF-8
    # stream) must not turn finished work into a UnicodeEncodeError; messages go through
    # printable() already, this covers everything else that is printed.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # a closed or exotic stream: leave it as it is
                pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    _never_fail_to_print()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TranslateError as e:
        print(f"translate: error: {printable(e)}", file=sys.stderr)
        return e.exit_code
    except BrokenPipeError:  # e.g. `translate zoo list | head`: the reader left, not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:  # the file system refused something not wrapped above: still one line
        where = f" {e.filename}" if e.filename else ""
        print(printable(f"translate: error: cannot access{where}: {e.strerror or e}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("translate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
