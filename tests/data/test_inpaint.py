"""Inpainting data: 128x128 crops with seeded holes of each kind; mask files."""

import numpy as np
import pytest
import torch

from translate.data.inpaint import InpaintDataset, read_mask
from translate.errors import TranslateError

from tests.helpers import random_image, write_png


@pytest.fixture
def images(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    write_png(d / "big.png", random_image(150, 170, seed=1))
    write_png(d / "small.png", random_image(60, 90, seed=2))  # enlarged to 128 before cropping
    return d


def test_items_shapes_and_centre_hole(images):
    ds = InpaintDataset([images], ["centre"])
    for i in range(len(ds)):
        item = ds[i]
        assert item["A"].shape == (3, 128, 128) and item["M"].shape == (1, 128, 128)
        expected = torch.zeros(128, 128)
        expected[32:96, 32:96] = 1
        assert torch.equal(item["M"][0], expected)


def test_random_kinds_are_binary_and_seeded(images):
    ds = InpaintDataset([images], ["block", "strokes"], seed=5)
    a, b = ds[0], InpaintDataset([images], ["block", "strokes"], seed=5)[0]
    assert torch.equal(a["M"], b["M"]) and torch.equal(a["A"], b["A"])
    assert set(torch.unique(a["M"]).tolist()) == {0.0, 1.0}
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["M"], a["M"]) or not torch.equal(ds[0]["A"], a["A"])


def test_mask_files(images, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    m = np.zeros((256, 256), np.uint8)
    m[:128, :] = 255
    write_png(masks / "m.png", m)
    item = InpaintDataset([images], ["files"], mask_dir=masks)[0]
    assert item["M"][0, :64].min() == 1 and item["M"][0, 64:].max() == 0
    with pytest.raises(TranslateError, match="--mask-dir"):
        InpaintDataset([images], ["files"])
    with pytest.raises(TranslateError, match="unknown mask kind"):
        InpaintDataset([images], ["circles"])


def test_read_mask_checks_size(tmp_path):
    path = write_png(tmp_path / "m.png", np.full((10, 12), 255, np.uint8))
    assert read_mask(path).all() and read_mask(path, (10, 12)).shape == (10, 12)
    with pytest.raises(TranslateError, match="12x10 but the image is 20x20"):
        read_mask(path, (20, 20))
