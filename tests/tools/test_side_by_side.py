"""tools/figures/side_by_side.py: the grid holds each model's real output, labelled, in order."""

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

import translate
from tests.helpers import random_image, save_official_generator, write_png
from translate.imageio import read_image, to_uint

TOOL = Path(__file__).resolve().parents[2] / "tools" / "figures" / "side_by_side.py"


@pytest.fixture
def tool():
    spec = importlib.util.spec_from_file_location("side_by_side", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def setup(tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for i in range(3):
        write_png(inputs / f"{i}.png", random_image(48, 48, seed=i))
    models = []
    for seed in (1, 2):  # two different random generators in the reference's file layout
        path = tmp_path / f"g{seed}.pth"
        save_official_generator(path, arch="resnet_6blocks", ngf=4, seed=seed)
        models.append(path)
    return inputs, models


def _cell(grid, row, column, cell, top):
    y = top + row * (cell + 6)
    x = column * (cell + 6)
    return grid[y:y + cell, x:x + cell]


def test_grid_holds_each_models_output_in_its_column(tool, setup, tmp_path, capsys):
    inputs, (g1, g2) = setup
    out = tmp_path / "fig" / "grid.png"
    cell = 64
    assert tool.main([str(inputs), "--limit", "2", "--size", "32", "--cell", str(cell),
                      "--model", f"first={g1}", "--model", str(g2), "-o", str(out)]) == 0
    assert "2 rows x 3 columns" in capsys.readouterr().out
    grid = to_uint(read_image(out).rgb)
    top = 28  # the caption bar of make_figures.label above the first row
    assert grid.shape == (top + 2 * cell + 6, 3 * cell + 2 * 6, 3)
    models = [translate.load(str(g), device="cpu") for g in (g1, g2)]
    for r in range(2):  # only the first two inputs, each resized to 32x32 before the models
        source = cv2.resize(to_uint(read_image(inputs / f"{r}.png").rgb), (32, 32), interpolation=cv2.INTER_AREA)
        expected = [source] + [m(source) for m in models]
        for c, image in enumerate(expected):
            shown = cv2.resize(image, (cell, cell), interpolation=cv2.INTER_NEAREST)
            assert np.abs(_cell(grid, r, c, cell, top).astype(int) - shown).max() <= 1, (r, c)
    # the two models differ, so a swapped or repeated column would have failed above
    assert np.abs(expected[1].astype(int) - expected[2]).mean() > 1
    # captions: dark text pixels in the bar above each column, none in the gaps
    bar = grid[:top]
    for c in range(3):
        assert (bar[:, c * (cell + 6):c * (cell + 6) + cell] < 128).any(), c


def test_bad_model_is_one_line_and_writes_nothing(tool, setup, tmp_path, capsys):
    inputs, (g1, _) = setup
    out = tmp_path / "grid.png"
    assert tool.main([str(inputs), "--model", f"ok={g1}", "--model", f"bad={tmp_path / 'missing.pth'}",
                      "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("side_by_side.py: error:") and "missing.pth" in err and "\n" not in err
    assert "Traceback" not in err
    assert not out.exists()


def test_refuses_an_unknown_image_name_and_writes_jpeg(tool, setup, tmp_path, capsys):
    inputs, (g1, _) = setup
    assert tool.main([str(inputs), "--model", str(g1), "-o", str(tmp_path / "grid.gif")]) == 2
    assert ".png or .jpg" in capsys.readouterr().err and not (tmp_path / "grid.gif").exists()
    assert tool.main([str(inputs), "--limit", "1", "--model", str(g1), "-o", str(tmp_path / "grid.jpg")]) == 0
    assert (tmp_path / "grid.jpg").read_bytes()[:2] == b"\xff\xd8"  # a JPEG file
