"""The README's two fresh-machine commands stay true: CI runs the second, the first uses a shipped model."""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_readme_is_short_and_keeps_its_test_count_line():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 250, "the README is for a newcomer's five minutes: details go to docs/"
    assert re.search(r"\(\d+ tests, ", text), "the README states the test count of the last CI run"


def test_readme_links_point_at_files_that_exist():
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert local, "the README links into the docs"
    for link in local:
        assert (ROOT / link).exists(), f"README links to {link}, which does not exist"


def test_readme_examples_write_outside_the_checkout():
    text = (ROOT / "README.md").read_text()
    for block in re.findall(r"```bash\n(.*?)\n```", text, flags=re.DOTALL):
        for output in re.findall(r"(?:-o|--out)\s+(\S+)", block):
            assert output.startswith(("/tmp/", "~/", "$HOME")), f"README example writes {output} into the checkout"


def test_quickstart_shows_the_readme_commands():
    """The ten common commands have one text: the docs' quickstart repeats the README's block."""
    def ten(path: Path) -> str:
        return re.search(r"## Ten common commands\n.*?```bash\n(.*?)\n```", path.read_text(), flags=re.DOTALL).group(1)

    assert ten(ROOT / "docs" / "quickstart.md") == ten(ROOT / "README.md")


@pytest.mark.slow
def test_ten_common_commands_run(tmp_path, shared_data):
    """The README's ten commands run: outputs in a temporary folder instead of /tmp/translate-demo, the
    reader's two folders made of real facades pairs, training cut to one tiny iteration, and `serve`
    stopped once it has started serving."""
    block = re.search(r"## Ten common commands\n.*?```bash\n(.*?)\n```", (ROOT / "README.md").read_text(),
                      flags=re.DOTALL).group(1)
    for name, half in (("my_labels", "A"), ("my_photos", "B")):
        shutil.copytree(shared_data / "paired" / "facades_split" / half, tmp_path / name)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for line in block.splitlines():
        command = line.replace("/tmp/translate-demo", str(tmp_path / "demo"))
        words = shlex.split(command, comments=True)
        if words[:2] == ["translate", "train"]:
            words += ["--max-iters", "1", "--netG", "unet_64", "--load-size", "64", "--crop-size", "64", "--workers", "0"]
        if words[:2] == ["translate", "serve"]:
            words += ["--port", "0"]
            with subprocess.Popen(words, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) as server:
                try:
                    first = server.stdout.readline()
                finally:
                    server.send_signal(signal.SIGINT)
                    try:
                        server.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        server.kill()  # fail, not hang in Popen's exit
                        raise
            assert "on http://127.0.0.1:" in first, f"{command}: {first}"
            continue
        cwd = tmp_path if words[:3] == ["translate", "convert", "combine"] else ROOT
        done = subprocess.run(words, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"{command} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
