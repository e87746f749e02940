"""The documentation site builds with `mkdocs build --strict` (no broken link, no missing page, no
docstring the API page cannot render); its generated pages (CLI reference, model cards) show what the
code holds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("mkdocs", reason="the docs test needs the docs packages (pip install -e '.[docs]' or '.[dev]')")
pytest.importorskip("material", reason="the docs test needs mkdocs-material")
pytest.importorskip("mkdocstrings_handlers.python", reason="the docs test needs mkdocstrings[python]")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return out


@pytest.mark.slow
def test_site_builds_strictly_with_every_page(site):
    for page in ("index.html", "quickstart/index.html", "cli/index.html", "api/index.html",
                 "tutorials/pix2pix/index.html", "models/index.html", "model-cards/index.html",
                 "benchmarks/index.html"):
        assert (site / page).is_file(), f"{page} missing from the built site"


@pytest.mark.slow
def test_cli_reference_is_the_help_text(site):
    """Each subcommand's --help (as argparse formats it at the page's width) appears on the CLI page."""
    import html
    import os

    from translate.cli import build_parser

    os.environ["COLUMNS"] = "100"  # the width the hook renders at
    try:
        parser = build_parser()
        page = html.unescape((site / "cli" / "index.html").read_text())
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        assert set(sub.choices) >= {"run", "train", "export", "convert"}
        for name, command in sub.choices.items():
            for line in command.format_help().splitlines()[:3]:
                assert line.strip() in page, f"`translate {name} --help` line {line!r} missing from the CLI page"
    finally:
        os.environ.pop("COLUMNS", None)


@pytest.mark.slow
def test_api_page_renders_the_docstrings(site):
    page = (site / "api" / "index.html").read_text()
    for name in ("Session", "translate_video", "create_app", "Translator"):
        assert name in page
    import html
    import re

    from translate.run.runtime import Session

    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    first_words = " ".join(Session.__doc__.replace("`", "").split()[:5])
    assert first_words in text, "Session's docstring is not on the API page"


@pytest.mark.slow
def test_model_cards_page_holds_every_shipped_card(site):
    import html

    from translate.models import cards

    page = html.unescape((site / "model-cards" / "index.html").read_text())
    shipped = [card for card in cards.zoo().values() if card.file]
    assert shipped
    for card in shipped:
        assert card.name in page and card.file in page, f"{card.name} missing from the model-card page"
