"""`translate convert check`: each layout's most common mistake is a warning (issue 20), `--strict`
makes warnings fail, and correct folders give none. Small generated images (tests/helpers.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.helpers import random_image, write_png
from translate.cli import main
from translate.data.layouts import SR


def save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_png(path, array)


def check(folder: Path, layout: str, capsys, *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["convert", "check", str(folder), "--layout", layout, "--quiet", *extra])
    return code, capsys.readouterr().out


def warnings(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("warning: ")]


def folder_of(folder: Path, sizes: list[tuple[int, int]], seed: int = 0, prefix: str = "") -> Path:
    for i, (h, w) in enumerate(sizes):
        save(folder / f"{prefix}{i}.png", random_image(h, w, seed=seed + i))
    return folder


# --------------------------------------------------------------------------------------------
# aligned: a folder of plain photos, not A|B pairs


def test_aligned_photos_that_are_not_pairs(tmp_path, capsys):
    photos = folder_of(tmp_path / "photos", [(32, 32)] * 5 + [(48, 64)])  # square and 4:3, no `combine`
    code, out = check(photos, "aligned", capsys)
    assert code == 0 and "OK" in out
    assert warnings(out) == [(
        "warning: 6 of 6 training images in train (the folder itself) are not side-by-side A|B pairs: they are "
        "less than 1.9 times as wide as high (e.g. 32x32; an A|B pair of square images is twice as wide as high), "
        "so the recipe would learn their left half -> right half (16x32 each); to pair two folders of images, run "
        "`translate convert combine A_DIR B_DIR OUT` and check OUT")]
    code, out = check(photos, "aligned", capsys, "--strict")
    assert code == 1 and "FAILED (--strict): 1 warning(s)" in out

    # the fix: combine A and B folders; pairs of square and of wider (4:3) images are fine
    a, b = folder_of(tmp_path / "A", [(32, 32)] * 3), folder_of(tmp_path / "B", [(32, 32)] * 3, seed=9)
    assert main(["convert", "combine", str(a), str(b), str(tmp_path / "ab"), "--quiet"]) == 0
    save(tmp_path / "ab" / "train" / "wide.png", random_image(24, 64))
    code, out = check(tmp_path / "ab", "aligned", capsys, "--strict")
    assert code == 0 and warnings(out) == [] and "OK: the pix2pix recipe can read this folder (0 warning(s))" in out
    # a few single pictures among pairs are not "most"
    save(tmp_path / "ab" / "train" / "photo.png", random_image(32, 32))
    code, out = check(tmp_path / "ab", "aligned", capsys)
    assert warnings(out) == []


# --------------------------------------------------------------------------------------------
# unaligned: trainA/ and trainB/ that are paired copies


def test_unaligned_folders_that_are_paired(tmp_path, capsys):
    ds = tmp_path / "ds"
    for i in range(3):
        save(ds / "trainA" / f"img{i}.png", random_image(32, 32, seed=i))
        save(ds / "trainB" / f"img{i}.png", random_image(32, 32, seed=10 + i))
    code, out = check(ds, "unaligned", capsys)
    assert code == 0
    assert warnings(out) == [(
        "warning: trainA/ and trainB/ look like paired data (the same 3 file names): for the cyclegan and cut "
        "recipes they are two unrelated sets; if each A image has its B partner, pix2pix may fit better (`translate convert "
        "combine trainA trainB OUT`, then --layout aligned); if not, trainB/ should hold the other kind of images")]
    assert check(ds, "unaligned", capsys, "--strict")[0] == 1


def test_unaligned_pairs_by_size_and_copied_images(tmp_path, capsys):
    ds = tmp_path / "ds"
    sizes = [(32, 40), (40, 32), (36, 36), (32, 48)]
    folder_of(ds / "trainA", sizes, prefix="label_")
    folder_of(ds / "trainB", sizes, seed=20, prefix="photo_")
    code, out = check(ds, "unaligned", capsys)
    assert code == 0 and warnings(out) == [(
        "warning: trainA/ and trainB/ look like paired data (the same 4 image sizes in the same order): for the cyclegan "
        "and cut recipes they are two unrelated sets; if each A image has its B partner, pix2pix may fit better "
        "(`translate convert combine trainA trainB OUT`, then --layout aligned); if not, trainB/ should hold the "
        "other kind of images")]

    copied = tmp_path / "copied"
    folder_of(copied / "trainA", [(32, 32)] * 3, prefix="horse_")
    folder_of(copied / "trainB", [(32, 32)] * 3, prefix="zebra_")  # same seeds: the same pixels
    code, out = check(copied, "unaligned", capsys)
    assert warnings(out) == [(
        "warning: 3 of 3 trainA/ images have the same pixels as a trainB/ image (first: trainA/horse_0.png = "
        "trainB/zebra_0.png): the two folders should hold different kinds of images (e.g. horses and zebras); was "
        "one folder copied into both?")]


def test_unaligned_correct_folders_give_no_warnings(tmp_path, capsys):
    ds = tmp_path / "ds"
    folder_of(ds / "trainA", [(32, 32)] * 3, prefix="horse_")
    folder_of(ds / "trainB", [(32, 32)] * 3, seed=10, prefix="zebra_")
    folder_of(ds / "testA", [(32, 32)], seed=20)
    folder_of(ds / "testB", [(32, 32)], seed=30)
    # numbered names in both folders (0.png, 1.png ...) say nothing about pairing
    folder_of(ds / "numbered" / "trainA", [(32, 32)] * 3, seed=40)
    folder_of(ds / "numbered" / "trainB", [(32, 32)] * 3, seed=50)
    for folder in (ds, ds / "numbered"):
        code, out = check(folder, "unaligned", capsys, "--strict")
        assert code == 0 and warnings(out) == [], out


# --------------------------------------------------------------------------------------------
# sr: an HR folder of already-small images


def test_sr_hr_folder_of_small_images(tmp_path, capsys):
    small = folder_of(tmp_path / "lr", [(32, 48), (40, 40), (64, 64), (100, 120)])
    code, out = check(small, "sr", capsys)
    assert code == 0 and warnings(out) == [(
        "warning: 3 of 4 HR (the folder itself) images are smaller than 96 px on a side (the srgan recipe's default "
        "--patch-size), so with the defaults training leaves them out; HR should hold high-resolution originals "
        "(the recipe makes the LR images from them), not already-downscaled or LR images; for small images on "
        "purpose, train with --patch-size at most 32")]
    assert check(small, "sr", capsys, "--strict")[0] == 1

    hr = folder_of(tmp_path / "hr", [(96, 128), (100, 100), (64, 64)])  # one small image of three is not "most"
    assert main(["convert", "sr", str(hr), str(tmp_path / "sr"), "--scale", "4", "--quiet"]) == 0
    code, out = check(tmp_path / "sr", "sr", capsys, "--strict")
    assert code == 0 and warnings(out) == []


def test_sr_threshold_is_the_srgan_default_patch_size():
    from dataclasses import fields

    from translate.train.recipes.srgan import SRGANConfig

    default = next(f.default for f in fields(SRGANConfig) if f.name == "patch_size")
    assert SR.small_side == default == 96


# --------------------------------------------------------------------------------------------
# derain: rain/ and norain/ that do not pair up, or pair an image with itself


def test_derain_folders_that_do_not_pair(tmp_path, capsys):
    ds = tmp_path / "ds"
    for i in range(3):
        save(ds / "rain" / f"rain-{i}.png", random_image(32, 32, seed=i))
        save(ds / "norain" / f"norain-{i}.png", random_image(32, 32, seed=i))  # the clean folder copied as rainy
    code, out = check(ds, "derain", capsys)
    assert code == 0 and warnings(out) == [(
        "warning: 3 of 3 rain/norain pairs are the same image twice (first: rain/rain-0.png = norain/norain-0.png): "
        "the recipe would learn to change nothing; rain/ should hold the degraded inputs and norain/ their clean "
        "targets (`translate convert rain CLEAN_DIR OUT` makes rainy inputs)")]
    assert check(ds, "derain", capsys, "--strict")[0] == 1

    # names that do not pair up and counts that differ: the layout's pairing rule already reports them
    bad = tmp_path / "bad"
    folder_of(bad / "rain", [(32, 32)] * 3, prefix="rain-")
    folder_of(bad / "norain", [(32, 32)] * 2, seed=10, prefix="clean_")
    save(bad / "norain" / "norain-0.png", random_image(32, 32, seed=20))
    code, out = check(bad, "derain", capsys)
    assert code == 1 and "2 image(s) have no clean partner" in out and "name them rain-N / norain-N" in out
    assert "2 image(s) have no partner in" in out and "training leaves them out" in out

    good = tmp_path / "good"
    clean = folder_of(tmp_path / "clean", [(32, 32)] * 3)
    assert main(["convert", "rain", str(clean), str(good), "--quiet"]) == 0
    code, out = check(good, "derain", capsys, "--strict")
    assert code == 0 and warnings(out) == [] and "the recipe sees 3 rain/norain pairs" in out


# --------------------------------------------------------------------------------------------
# inpaint: masks that are not black and white


def test_inpaint_masks_that_are_not_binary(tmp_path, capsys):
    ds = tmp_path / "ds"
    folder_of(ds / "images", [(32, 32)] * 2)
    hole = np.zeros((32, 32), np.uint8)
    hole[8:24, 8:24] = 255
    save(ds / "masks" / "hole.png", hole)
    soft = hole.copy()  # JPEG-like: black and white, slightly off; the threshold reads it as meant
    soft[hole == 0] = 3
    soft[hole == 255] = 250
    save(ds / "masks" / "soft.png", soft)
    save(ds / "masks" / "photo.png", random_image(32, 32, c=1, seed=5))  # a grey photo, not a mask
    save(ds / "masks" / "ramp.png", np.tile(np.linspace(0, 255, 32).astype(np.uint8), (32, 1)))
    code, out = check(ds, "inpaint", capsys)
    assert code == 0 and warnings(out) == [(
        "warning: 2 mask(s) are not black and white (more than 1% of their pixels grey): masks/photo.png, "
        "masks/ramp.png; the recipe makes a hole wherever a mask is lighter than the middle grey, so their grey "
        "areas become arbitrary holes; save masks as pure black (kept) and white (hole), e.g. with `translate "
        "convert masks`")]
    assert check(ds, "inpaint", capsys, "--strict")[0] == 1
    (ds / "masks" / "photo.png").unlink()
    (ds / "masks" / "ramp.png").unlink()
    code, out = check(ds, "inpaint", capsys, "--strict")
    assert code == 0 and warnings(out) == []
