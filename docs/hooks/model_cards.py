"""MkDocs hook: the model-card page (`model-cards.md`), rendered at build time from the zoo.

Each model shipped in `weights/` gets the card `translate zoo info NAME` prints (the same
``card.to_dict()``), so the page shows what the code holds, not a copy that could drift.
"""

from __future__ import annotations

import json

from mkdocs.structure.files import File

PAGE = "model-cards.md"


def render() -> str:
    """The page: a table of every zoo model, then the full card of each shipped one."""
    from translate.models import cards

    zoo = list(cards.zoo().values())
    shipped = [card for card in zoo if card.file]
    text = ["# Model cards", "",
            "Generated when the site is built from the zoo in `translate/models/cards.py`: the table lists",
            "every name `translate zoo list` knows, and each model shipped in `weights/` follows with the card",
            "`translate zoo info NAME` prints. Scores and training commands: [models](models.md).", "",
            "| name | task | architecture | weights |", "|---|---|---|---|"]
    for card in zoo:
        weights = f"shipped: `{card.file}`" if card.file else "downloaded on first use"
        text.append(f"| `{card.name}` | {card.task} | {card.arch} | {weights} |")
    for card in shipped:
        text += ["", f"## `{card.name}`", "", card.description or "", "",
                 "```json", json.dumps(card.to_dict(), indent=2, sort_keys=True), "```"]
    return "\n".join(text) + "\n"


def on_files(files, config):
    """Add the generated page to the site (MkDocs event)."""
    files.append(File.generated(config, PAGE, content=render()))
    return files
