"""MkDocs hook: the CLI reference page (`cli.md`), rendered at build time from translate's argparse parsers.

Each command and subcommand gets a section holding exactly what `translate ... --help` prints, so the
page cannot drift from the command line. No maintained MkDocs plugin fits (see docs/contributing.md):
this walks :func:`translate.cli.build_parser` and calls argparse's own ``format_help``.
"""

from __future__ import annotations

import argparse
import os

from mkdocs.structure.files import File

PAGE = "cli.md"
HELP_WIDTH = "100"  # argparse wraps at $COLUMNS: fixed, so the page is the same on every machine


def subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    """The (name, parser) pairs of a parser's subcommands, in the order `--help` lists them."""
    found = []
    for action in parser._actions:  # argparse has no public accessor for subparsers
        if isinstance(action, argparse._SubParsersAction):
            seen = set()
            for name, sub in action.choices.items():
                if id(sub) not in seen:  # aliases share one parser
                    seen.add(id(sub))
                    found.append((name, sub))
    return found


def recipe_parsers(words: list[str]) -> list[tuple[str, argparse.ArgumentParser]]:
    """`translate train RECIPE --help` parsers: the recipes' options live in parsers built on demand."""
    if words != ["translate", "train"]:
        return []
    from translate.commands.train import recipe_parser
    from translate.train.recipes import recipe_names

    return [(name, recipe_parser(name)) for name in recipe_names()]


def sections(parser: argparse.ArgumentParser, words: list[str], level: int = 2) -> list[str]:
    """Markdown for one parser and, below it, every subcommand's parser, depth first."""
    command = " ".join(words)
    text = [f"{'#' * min(level, 6)} `{command}`", "", "```text", parser.format_help().rstrip(), "```", ""]
    for name, sub in subcommands(parser) + recipe_parsers(words):
        text += sections(sub, words + [name], level + 1)
    return text


def render() -> str:
    """The whole CLI reference page as Markdown."""
    from translate.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH
    try:
        parser = build_parser()
        body = sections(parser, ["translate"])
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous
    head = ["# CLI reference", "",
            "Generated when the site is built from the parsers in `translate/cli.py` and",
            "`translate/commands/`: each block is what `--help` prints for that command.", ""]
    return "\n".join(head + body) + "\n"


def on_files(files, config):
    """Add the generated page to the site (MkDocs event)."""
    files.append(File.generated(config, PAGE, content=render()))
    return files
