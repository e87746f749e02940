"""The README's two fresh-machine commands stay true: CI runs the second, the first uses a shipped model."""

import re
import shlex
from pathlib import Path

from translate.models.cards import lookup

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)[:2]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    command = re.search(r"TEST_COMMAND='(.*)'", ci).group(1)
    assert readme_commands()[1] == command


def test_first_command_runs_a_shipped_model_on_an_existing_input():
    words = shlex.split(readme_commands()[0].split("&&")[-1])
    assert words[0].endswith("translate") and words[1] == "run"
    card = lookup(words[2])
    assert card is not None and card.file, f"{words[2]} must be a model shipped in weights/"
    assert (ROOT / card.file).is_file()
    assert (ROOT / words[3]).exists(), f"sample input {words[3]} missing"
