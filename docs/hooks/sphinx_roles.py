"""MkDocs hook: drop the Sphinx role prefixes (``:func:``, ``:class:`` ...) the docstrings use.

The docstrings write cross-references as reST roles, which mkdocstrings renders as the role name
followed by the code span (":func:`translate.load`" -> ":func:<code>translate.load</code>"); the
code span alone reads as intended. A leading ``~`` (Sphinx: show the last name only) is applied too.
"""

from __future__ import annotations

import re

ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj|const):<code>~?([^<]*)</code>")


def short(match: re.Match) -> str:
    name = match.group(1)
    whole = match.group(0)
    return f"<code>{name.rsplit('.', 1)[-1] if '<code>~' in whole else name}</code>"


def on_page_content(html, page, config, files):
    """Rewrite each page's HTML (MkDocs event)."""
    return ROLE.sub(short, html)
