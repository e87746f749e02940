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

from translate import __version__
from translate.errors import TranslateError

SUBCOMMANDS = ("run", "train", "eval", "export", "convert", "zoo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="translate",
        description="Image-to-image translation with GANs: run, train, export and convert.",
    )
    parser.add_argument("--version", action="version", version=f"translate {__version__}")
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


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except TranslateError as e:
        print(f"translate: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("translate: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `translate zoo list | head`: the reader left, not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
