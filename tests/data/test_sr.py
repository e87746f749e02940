"""SR training data: random HR crops with MATLAB-bicubic LR made on the fly, reproducible per epoch."""

import os

import numpy as np
import pytest
import torch

from tests.helpers import random_image, write_png
from translate.data.degradations import imresize_matlab
from translate.data.sr import SRDataset, make_lr, modcrop, split_folders
from translate.errors import TranslateError


@pytest.fixture
def hr_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for i in range(3):
        write_png(a / f"{i}.png", random_image(40 + 4 * i, 52, seed=i))
    write_png(b / "big.png", random_image(48, 48, seed=7))
    write_png(b / "tiny.png", random_image(20, 30, seed=8))  # smaller than the patch: left out
    return a, b


def test_items_are_crop_pairs_whose_lr_is_matlab_bicubic(hr_folders):
    a, b = hr_folders
    ds = SRDataset(f"{a},{b}", scale=4, patch_size=32, repeat=2, seed=3)
    assert len(ds) == 2 * 4 and [p.name for p in ds.skipped] == ["tiny.png"]
    item = ds[5]
    assert item["lr"].shape == (3, 8, 8) and item["hr"].shape == (3, 32, 32)
    assert item["lr"].dtype == torch.float32 and 0 <= item["hr"].min() and item["hr"].max() <= 1
    hr = np.round(item["hr"].numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(np.round(item["lr"].numpy().transpose(1, 2, 0) * 255).astype(np.uint8),
                                  imresize_matlab(hr, 0.25))


def test_augmentation_depends_on_seed_epoch_and_index_only(hr_folders):
    a, _ = hr_folders
    ds = SRDataset(a, scale=2, patch_size=16, seed=0)
    first = ds[1]["hr"]
    torch.testing.assert_close(SRDataset(a, scale=2, patch_size=16, seed=0)[1]["hr"], first)
    ds.set_epoch(1)
    assert not torch.equal(ds[1]["hr"], first)
    ds.set_epoch(0)
    torch.testing.assert_close(ds[1]["hr"], first)


def test_without_augmentation_crops_are_upright(tmp_path):
    ramp = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (64, 1, 3))  # grows left to right
    write_png(tmp_path / "ramp.png", ramp)
    for epoch in range(3):
        ds = SRDataset(tmp_path, scale=4, patch_size=32, augment=False, seed=epoch)
        row = ds[0]["hr"][0, 0]
        assert torch.all(row[1:] > row[:-1])


def test_errors(tmp_path, hr_folders):
    a, _ = hr_folders
    with pytest.raises(TranslateError, match="not found"):
        SRDataset(f"{a},{tmp_path / 'nope'}")
    with pytest.raises(TranslateError, match="multiple of --scale"):
        SRDataset(a, scale=3, patch_size=32)
    with pytest.raises(TranslateError, match="smaller --patch-size"):
        SRDataset(a, scale=4, patch_size=128)
    (tmp_path / "empty").mkdir()
    with pytest.raises(TranslateError, match="no image"):
        SRDataset(tmp_path / "empty")


def test_helpers():
    assert [p.name for p in split_folders(f"x,y{os.pathsep}z")] == ["x", "y", "z"]
    assert [p.name for p in split_folders("x, y ,")] == ["x", "y"]
    assert modcrop(np.zeros((10, 13, 3)), 4).shape == (8, 12, 3)
    hr = random_image(16, 12, seed=1)
    lr8 = make_lr(hr, 4)
    lrf = make_lr(hr.astype(np.float32) / 255, 4)
    assert lr8.dtype == np.uint8 and lr8.shape == (4, 3, 3)
    assert np.abs(lrf * 255 - lr8).max() <= 1.0 + 1e-4  # float path rounds once, uint8 per axis (MATLAB)
    with pytest.raises(ValueError, match="modcrop"):
        make_lr(random_image(10, 12), 4)
