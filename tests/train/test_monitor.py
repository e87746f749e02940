"""Watching training: index.html lists the sheets, losses.png is a real plot, tensorboard events."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from translate.errors import TranslateError
from translate.train.monitor import draw_loss_curve, loss_names, tensorboard_writer, write_index, write_loss_curve
from translate.train.trainer import train

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FACADES = DATA / "paired" / "facades_mini"
needs_data = pytest.mark.skipif(not FACADES.is_dir(), reason="real images in ../shared/data are not available")
TINY = {"data": str(FACADES), "netG": "unet_32", "ngf": 8, "ndf": 8, "load_size": 36, "crop_size": 32,
        "workers": 0, "print_every": 1, "sample_every": 2, "save_every": 100}


@needs_data
def test_training_writes_index_html_and_loss_curve(tmp_path):
    run = train("pix2pix", {**TINY, "out": str(tmp_path / "run"), "max_iters": 5}).run_dir
    page = (run / "index.html").read_text(encoding="utf-8")
    sheets = sorted(p.name for p in (run / "samples").glob("iter_*.png"))
    assert sheets == ["iter_000002.png", "iter_000004.png", "iter_000005.png"]
    links = re.findall(r'<img src="(samples/[^"]+)"', page)
    assert links == [f"samples/{n}" for n in reversed(sheets)], "newest first, relative links"
    assert all((run / link).is_file() for link in links)
    assert "iteration 5" in page and "G_L1" in page  # iteration numbers and the latest losses
    curve = cv2.imread(str(run / "losses.png"))
    assert curve is not None and curve.shape == (540, 960, 3)
    assert not list(run.glob(".*.tmp"))
    from translate.train.config import read_config_file
    from translate.train.recipes import get_recipe

    options, recipe = read_config_file(run / "config.yaml", get_recipe("pix2pix").Config)
    assert recipe == "pix2pix" and options["max_iters"] == 5 and options["ngf"] == 8


def test_loss_curve_draws_one_coloured_line_per_loss(tmp_path):
    records = [{"iteration": i, "epoch": 1, "time": 0.1, "lr_G": 2e-4, "G_L1": 300.0 / i, "D_real": 0.5}
               for i in range(1, 21)]
    assert loss_names(records) == ["G_L1", "D_real"]
    img = draw_loss_curve(records)
    colours = {tuple(c) for c in img.reshape(-1, 3)}
    assert (180, 119, 31) in colours and (14, 127, 255) in colours  # the two series' colours
    linear = draw_loss_curve(records, log_scale=False)
    assert not np.array_equal(img, linear), "auto picks the log scale for losses spanning 2+ decades"
    path = write_loss_curve(records, tmp_path / "losses.png")
    assert cv2.imread(str(path)).shape == img.shape
    with pytest.raises(ValueError):
        draw_loss_curve([{"iteration": 1, "epoch": 1}])
    hinge = [{"iteration": i, "D": -1.0 + i} for i in range(3)]  # zero / negative: log scale refused
    assert draw_loss_curve(hinge, log_scale=True).shape == img.shape


def test_index_without_sheets_or_losses(tmp_path):
    page = write_index(tmp_path, []).read_text(encoding="utf-8")
    assert "none yet" in page and "none logged yet" in page


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is not None, reason="tensorboard is installed")
def test_tensorboard_missing_is_a_clear_error(tmp_path):
    with pytest.raises(TranslateError, match="pip install"):
        tensorboard_writer(tmp_path)


@needs_data
@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="tensorboard is not installed")
def test_tensorboard_event_file_is_written(tmp_path):
    run = train("pix2pix", {**TINY, "out": str(tmp_path / "run"), "max_iters": 2, "tensorboard": True}).run_dir
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
