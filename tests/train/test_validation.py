"""Validation during training: PSNR / SSIM logged, best.pt kept only when PSNR improves."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import torch

from translate.errors import TranslateError
from translate.train.runlog import read_log
from translate.train.trainer import train

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FACADES = DATA / "paired" / "facades_mini"
pytestmark = pytest.mark.skipif(not FACADES.is_dir(), reason="real images in ../shared/data are not available")
TINY = {"data": str(FACADES), "netG": "unet_32", "ngf": 8, "ndf": 8, "load_size": 36, "crop_size": 32,
        "workers": 0, "print_every": 100, "sample_every": 100, "save_every": 100}


def val_records(run: Path) -> list[dict]:
    return [r for r in read_log(run / "losses.jsonl") if "val_psnr" in r]


def test_pix2pix_validation_logs_psnr_and_keeps_best(tmp_path):
    val = tmp_path / "val"
    shutil.copytree(FACADES / "test", val)
    run = train("pix2pix", {**TINY, "out": str(tmp_path / "run"), "max_iters": 6, "val_every": 2,
                            "val_data": str(val), "val_max_images": 2}).run_dir
    records = val_records(run)
    assert [r["iteration"] for r in records] == [2, 4, 6]
    assert all(5 < r["val_psnr"] < 60 and -1 <= r["val_ssim"] <= 1 for r in records)
    best = torch.load(run / "checkpoints" / "best.pt", weights_only=True)
    top = max(records, key=lambda r: r["val_psnr"])
    assert best["val"]["iteration"] == top["iteration"] and best["val"]["val_psnr"] == top["val_psnr"]
    assert best["format"] == "translate-checkpoint" and "G" in best["nets"]


def test_best_pt_is_replaced_only_when_psnr_improves(tmp_path):
    val = tmp_path / "val"
    shutil.copytree(FACADES / "test", val)
    run = train("pix2pix", {**TINY, "out": str(tmp_path / "run"), "max_iters": 2, "val_every": 2,
                            "val_data": str(val), "val_max_images": 1}).run_dir
    best_path = run / "checkpoints" / "best.pt"
    ckpt = torch.load(best_path, weights_only=True)
    ckpt["val"]["val_psnr"] = 1000.0  # unbeatable: later validations must leave best.pt alone
    torch.save(ckpt, best_path)
    before = best_path.read_bytes()
    train("pix2pix", {"max_iters": 4}, resume=run)
    assert [r["iteration"] for r in val_records(run)] == [2, 4]
    assert best_path.read_bytes() == before
    ckpt["val"]["val_psnr"] = -1000.0  # beatable: replaced at the next one
    torch.save(ckpt, best_path)
    train("pix2pix", {"max_iters": 6}, resume=run)
    assert torch.load(best_path, weights_only=True)["val"]["iteration"] == 6


def test_validation_needs_a_folder(tmp_path):
    with pytest.raises(TranslateError, match="--val-data"):
        train("pix2pix", {**TINY, "out": str(tmp_path / "run"), "max_iters": 1, "val_every": 1})


def test_validation_uses_the_datasets_val_split(tmp_path):
    sat2mask = DATA / "paired" / "sat2mask"
    if not (sat2mask / "val").is_dir():
        pytest.skip("../shared/data/paired/sat2mask/val is not available")
    run = train("pix2pix", {**TINY, "data": str(sat2mask), "out": str(tmp_path / "run"), "max_iters": 1,
                            "val_every": 1, "val_max_images": 1}).run_dir
    (record,) = val_records(run)
    assert record["iteration"] == 1 and math.isfinite(record["val_psnr"])
    assert (run / "checkpoints" / "best.pt").is_file()


def test_sr_validation_scores_fixed_crops_on_y(tmp_path):
    from tests.helpers import random_image, write_png

    train_dir, val_dir = tmp_path / "hr", tmp_path / "val"
    for folder, seed in ((train_dir, 0), (val_dir, 10)):
        folder.mkdir()
        for i in range(2):
            write_png(folder / f"{i}.png", random_image(40, 40, seed=seed + i))
    opts = dict(scale=2, num_feat=8, num_blocks=1, head_kernel=3, patch_size=16, batch_size=2, workers=0,
                device="cpu", print_every=100, sample_every=100, save_every=100)
    run = train("srgan", {**opts, "data": str(train_dir), "out": str(tmp_path / "run"), "max_iters": 2,
                          "val_every": 1, "val_data": str(val_dir)}).run_dir
    records = val_records(run)
    assert [r["iteration"] for r in records] == [1, 2]
    assert all(math.isfinite(r["val_psnr"]) and 0 < r["val_psnr"] < 60 for r in records)
    assert (run / "checkpoints" / "best.pt").is_file()


def test_derain_validation_on_held_out_pairs(tmp_path):
    from tests.helpers import random_image, write_png

    val = tmp_path / "val"
    (val / "rain").mkdir(parents=True)
    (val / "norain").mkdir()
    for i in range(2):
        clean = random_image(24, 24, seed=i)
        write_png(val / "norain" / f"norain-{i}.png", clean)
        write_png(val / "rain" / f"rain-{i}.png", (clean // 2 + 100).astype("uint8"))
    opts = {"ngf": 4, "growth": 4, "layers_per_block": 1, "levels": 2, "ndf": 4, "n_layers_D": 1, "num_D": 2,
            "crop_size": 16, "batch_size": 2, "workers": 0, "device": "cpu", "lambda_perceptual": 0.0,
            "print_every": 100, "sample_every": 100, "save_every": 100}
    run = train("derain", {**opts, "data": str(val), "out": str(tmp_path / "run"), "max_iters": 2,
                           "val_every": 2, "val_data": str(val)}).run_dir
    (record,) = val_records(run)
    assert record["iteration"] == 2 and 5 < record["val_psnr"] < 60
