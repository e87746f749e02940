"""`translate zoo`: list the named models and show their cards (no torch, no network)."""

from __future__ import annotations

import argparse
import difflib
import json
from typing import Any
from urllib.parse import urlparse

from translate.commands import print_table
from translate.errors import TranslateError
from translate.models import cards
from translate.models.cards import ModelCard

_COLUMNS = ("name", "task", "architecture", "source", "cached")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "zoo", help="list the named models and their cards",
        description="List the named models (official CycleGAN / pix2pix weights and shipped models), "
                    "where their weights come from and whether they are already on disk.",
    )
    p.set_defaults(func=_list, json=False)
    zoo_sub = p.add_subparsers(dest="zoo_command", metavar="ZOO_COMMAND")
    p_list = zoo_sub.add_parser("list", help="table of the named models (the default)",
                                description="Print one row per named model.")
    p_list.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p_list.set_defaults(func=_list)
    p_info = zoo_sub.add_parser("info", help="print the model card of one model as JSON",
                                description="Print the model card of NAME as JSON.")
    p_info.add_argument("name", metavar="NAME", help="zoo name, e.g. cyclegan/horse2zebra or horse2zebra")
    p_info.set_defaults(func=_info)


def _row(card: ModelCard) -> dict[str, Any]:
    from translate.models.weights import cache_path, is_cached, shipped_path

    norm = card.generator.get("norm")
    if card.file:
        source, cached, where = "shipped", "in repo", shipped_path(card)
    else:
        source = (urlparse(card.url).hostname or card.url) if card.url else "-"
        cached, where = ("yes" if is_cached(card) else "no"), cache_path(card)
    return {
        "name": card.name, "task": card.task,
        "architecture": f"{card.arch} ({norm} norm)" if norm else card.arch,
        "source": source, "cached": cached,
        "arch": card.arch, "norm": norm, "url": card.url, "path": str(where),
    }


def _list(args: argparse.Namespace) -> int:
    rows = [_row(card) for card in cards.zoo().values()]
    if args.json:
        for row in rows:
            row["cached"] = row["cached"] != "no"
        print(json.dumps(rows, indent=2))
        return 0
    print_table(rows, _COLUMNS)
    return 0


def _info(args: argparse.Namespace) -> int:
    card = cards.lookup(args.name)
    if card is None:
        short = cards.aliases()
        matches = difflib.get_close_matches(args.name, list(cards.zoo()) + list(short), n=3)
        close = list(dict.fromkeys(full for m in matches for full in short.get(m, [m])))
        hint = f"; did you mean {' or '.join(close)}?" if close else "; see `translate zoo list`"
        raise TranslateError(f"'{args.name}' is not a zoo model{hint}")
    print(json.dumps(card.to_dict(), indent=2, sort_keys=True))
    return 0
