"""Tests of `translate zoo list` / `translate zoo info`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from translate.cli import main
from translate.models import cards
from translate.models.cards import CYCLEGAN_NAMES, PIX2PIX_NAMES, ModelCard
from translate.models.weights import cache_path

OFFICIAL = [f"cyclegan/{n}" for n in CYCLEGAN_NAMES] + [f"pix2pix/{n}" for n in PIX2PIX_NAMES]


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("TRANSLATE_HOME", str(home))
    return home


def _rows(capsys) -> dict[str, dict]:
    assert main(["zoo", "list", "--json"]) == 0
    return {row["name"]: row for row in json.loads(capsys.readouterr().out)}


def _table(capsys, argv=("zoo", "list")) -> dict[str, list[str]]:
    assert main(list(argv)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "TASK", "ARCHITECTURE", "SOURCE", "CACHED"]
    return {line.split()[0]: line.split() for line in lines[1:]}


def test_list_shows_every_official_model_with_its_cache_state(home, capsys):
    cached = cards.lookup("cyclegan/horse2zebra")
    cache_path(cached).parent.mkdir(parents=True)
    cache_path(cached).write_bytes(b"weights")

    table = _table(capsys)
    assert len(OFFICIAL) == 23 and set(OFFICIAL) <= set(table)
    for name in OFFICIAL:
        row = table[name]
        assert row[-1] == ("yes" if name == "cyclegan/horse2zebra" else "no")
        assert row[-2] == "efrosgans.eecs.berkeley.edu"
        assert row[1] == name.split("/")[0]
    assert table["cyclegan/horse2zebra"][2:5] == ["resnet_9blocks", "(instance", "norm)"]
    assert table["pix2pix/edges2shoes"][2:5] == ["unet_256", "(batch", "norm)"]
    assert _table(capsys, ["zoo"]) == table  # `list` is the default


def test_list_json(home, capsys):
    cached = cards.lookup("pix2pix/day2night")
    cache_path(cached).parent.mkdir(parents=True)
    cache_path(cached).write_bytes(b"weights")

    rows = _rows(capsys)
    assert set(OFFICIAL) <= set(rows)
    assert [n for n in OFFICIAL if rows[n]["cached"]] == ["pix2pix/day2night"]
    row = rows["pix2pix/day2night"]
    assert row["arch"] == "unet_256" and row["norm"] == "batch" and row["task"] == "pix2pix"
    assert row["url"] == cached.url and row["path"] == str(cache_path(cached))


def test_shipped_models_are_listed_as_in_repo(home, tmp_path, monkeypatch, capsys):
    import torch

    from translate.models.checkpoint import save_shipped

    repo_weights = tmp_path / "repo" / "weights"
    monkeypatch.setattr(cards, "SHIPPED_WEIGHTS", repo_weights)
    monkeypatch.setattr(cards, "_ZOO", None)
    card = ModelCard(name="tinymask", task="pix2pix", generator={"arch": "unet_128", "norm": "batch"},
                     file="weights/tinymask.safetensors")
    save_shipped(repo_weights / "tinymask.safetensors", {"w": torch.zeros(2)}, card)
    (repo_weights / "junk.safetensors").write_bytes(b"not a model")  # skipped, not fatal

    assert _table(capsys)["tinymask"] == ["tinymask", "pix2pix", "unet_128", "(batch", "norm)", "shipped", "in", "repo"]
    row = _rows(capsys)["tinymask"]
    assert row["cached"] is True and row["source"] == "shipped"
    assert row["path"] == str(repo_weights / "tinymask.safetensors")


def test_info_prints_the_card(capsys):
    assert main(["zoo", "info", "horse2zebra"]) == 0
    card = ModelCard.from_dict(json.loads(capsys.readouterr().out))
    assert card == cards.lookup("cyclegan/horse2zebra")


@pytest.mark.parametrize("name,expected", [
    ("horse2zebr", "did you mean cyclegan/horse2zebra?"),
    ("sat2map", "ambiguous"),
    ("no_such_model", "translate zoo list"),
])
def test_info_with_a_bad_name(capsys, name, expected):
    assert main(["zoo", "info", name]) == 2
    err = capsys.readouterr().err
    assert err.startswith("translate: error: ") and expected in err and err.count("\n") == 1


def test_zoo_list_does_not_import_torch(home):
    code = (
        "import sys\n"
        "from translate.cli import main\n"
        "assert main(['zoo', 'list']) == 0\n"
        "assert main(['zoo', 'list', '--json']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "cyclegan/horse2zebra" in result.stdout
