"""De-raining data: rain/norain pairing, synthetic rain on clean images, seeded items."""

import numpy as np
import pytest
import torch

from translate.data.derain import DerainDataset
from translate.data.layouts import DERAIN, rain_pair_key
from translate.errors import TranslateError

from tests.helpers import random_image, write_png


def make_pairs(root, names):
    for d in ("rain", "norain"):
        (root / d).mkdir(parents=True)
    for i, (rain_name, clean_name) in enumerate(names):
        write_png(root / "rain" / rain_name, random_image(40, 48, seed=i))
        write_png(root / "norain" / clean_name, random_image(40, 48, seed=100 + i))
    return root


def rain_pairs(root):
    return DERAIN.find(root).require().pairs["norain"]


def test_pair_key():
    from pathlib import Path

    assert rain_pair_key(Path("rain-001.png")) == rain_pair_key(Path("norain-001.png")) == "001"
    assert rain_pair_key(Path("rain_7.png")) == "7" and rain_pair_key(Path("12.png")) == "12"
    # separators and case may differ between the two sides (issue 12)
    assert rain_pair_key(Path("rain-1.png")) == rain_pair_key(Path("norain_1.png")) == "1"
    assert rain_pair_key(Path("Rain_7.png")) == rain_pair_key(Path("norain 7.png")) == "7"


def test_rain100_naming_and_same_names_pair(tmp_path):
    root = make_pairs(tmp_path / "d", [("rain-001.png", "norain-001.png"), ("rain-002.png", "norain-002.png"),
                                       ("x.png", "x.png")])
    pairs = rain_pairs(root)
    assert [(a.name, b.name) for a, b in pairs] == [("rain-001.png", "norain-001.png"),
                                                    ("rain-002.png", "norain-002.png"), ("x.png", "x.png")]


def test_unmatched_and_missing_folders_are_errors(tmp_path):
    root = make_pairs(tmp_path / "d", [("rain-001.png", "norain-002.png")])
    with pytest.raises(TranslateError, match="no clean partner.*rain-001.png"):
        rain_pairs(root)
    with pytest.raises(TranslateError, match="missing rain/ and norain/"):
        rain_pairs(tmp_path)


def test_synthetic_rain_items_are_seeded_and_rainy(tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    write_png(clean / "a.png", np.full((50, 60, 3), 60, np.uint8))
    ds = DerainDataset(None, [clean], crop_size=32, seed=3, light_fraction=0.0)
    item = ds[0]
    assert item["A"].shape == item["B"].shape == (3, 32, 32)
    # screen-blended white streaks only ever brighten
    assert (item["A"] >= item["B"] - 1e-6).all() and (item["A"] - item["B"]).max() > 0.1
    again = DerainDataset(None, [clean], crop_size=32, seed=3, light_fraction=0.0)[0]
    assert torch.equal(item["A"], again["A"])
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["A"], item["A"])


def test_clean_fraction_leaves_items_dry(tmp_path):
    clean = tmp_path / "clean"
    clean.mkdir()
    for i in range(8):
        write_png(clean / f"{i}.png", np.full((40, 40, 3), 30 * i, np.uint8))
    dry = DerainDataset(None, [clean], crop_size=32, seed=1, clean_fraction=1.0)
    assert all(torch.equal(dry[i]["A"], dry[i]["B"]) for i in range(8))
    wet = DerainDataset(None, [clean], crop_size=32, seed=1, clean_fraction=0.0)
    assert not any(torch.equal(wet[i]["A"], wet[i]["B"]) for i in range(8))
    # the same crops either way: leaving an item dry does not shift the random streams
    assert all(torch.equal(dry[i]["B"], wet[i]["B"]) for i in range(8))


def test_pairs_and_synthetic_mix(tmp_path):
    root = make_pairs(tmp_path / "d", [("rain-1.png", "norain-1.png")])
    clean = tmp_path / "clean"
    clean.mkdir()
    write_png(clean / "c.png", random_image(30, 30, seed=9))  # smaller than the crop: padded
    ds = DerainDataset(root, [clean], crop_size=32, pair_repeat=3)
    assert len(ds) == 4
    assert ds[2]["A_path"].endswith("rain-1.png") and ds[2]["B_path"].endswith("norain-1.png")
    assert ds[3]["A_path"] == ds[3]["B_path"] and ds[3]["A"].shape == (3, 32, 32)
    with pytest.raises(TranslateError, match="no de-raining data"):
        DerainDataset(None, [])


def test_pair_of_different_sizes_is_an_error(tmp_path):
    root = make_pairs(tmp_path / "d", [("rain-1.png", "norain-1.png")])
    write_png(root / "norain" / "norain-1.png", random_image(20, 20))
    with pytest.raises(TranslateError, match="one size"):
        DerainDataset(root, crop_size=16)[0]
