"""Check that a release tag names the version in translate/version.py (its one home).

    python packaging/check_release_tag.py v0.2.0      # exit 0, or one line and exit 1

The release workflow runs this on every pushed ``v*`` tag before it builds anything, so that
``v0.2.0`` can only publish distributions whose metadata say 0.2.0 (pyproject.toml reads the
version from the same file). The version is read from the file's text, without importing the package.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

VERSION_FILE = Path(__file__).resolve().parents[1] / "translate" / "version.py"


def read_version(path: Path = VERSION_FILE) -> str:
    """The string assigned to ``__version__`` in ``path`` (a plain literal; anything else raises ValueError)."""
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            value = ast.literal_eval(node.value)
            if isinstance(value, str):
                return value
    raise ValueError(f"{path} assigns no string literal to __version__")


def tag_problem(tag: str, version: str) -> str | None:
    """None when ``tag`` is ``v<version>`` exactly (``v0.2.0`` for 0.2.0), else what is wrong, in one line."""
    if tag == f"v{version}":
        return None
    return (f"release tag {tag!r} does not match translate/version.py's __version__ {version!r}: "
            f"tag v{version}, or set __version__ to {tag.removeprefix('v')!r} and tag that commit")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python packaging/check_release_tag.py TAG", file=sys.stderr)
        return 2
    problem = tag_problem(argv[0], read_version())
    if problem:
        print(f"check_release_tag: {problem}", file=sys.stderr)
        return 1
    print(f"release tag {argv[0]} matches translate/version.py")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
