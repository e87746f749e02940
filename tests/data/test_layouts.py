"""Dataset layouts (translate/data/layouts.py): what `translate convert X` writes, `convert check --layout`
accepts and `translate train` reads are one declaration, end to end, for every layout.

Each end-to-end test makes tiny copies of real images (../shared/data, resized to 32-48 px), runs
`translate convert`, `translate convert check` and `translate train ... --max-iters 1` (tiny
networks, CPU, no loader workers) and checks the number of items the recipe's dataset reads.
"""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from translate.cli import main
from translate.data.layouts import DERAIN, INPAINT, LAYOUTS, SR, hole_mask, image_files, rain_pair_key, read_mask
from translate.imageio import read_image, to_uint
from translate.train.recipes import get_recipe

from tests.helpers import random_image, write_png

COMMON = ["--max-iters", "1", "--device", "cpu", "--workers", "0", "--print-every", "1", "--seed", "1"]
TINY = {
    "pix2pix": ["--netG", "unet_32", "--ngf", "4", "--ndf", "4", "--load-size", "32", "--crop-size", "32"],
    "cyclegan": ["--netG", "resnet_2blocks", "--ngf", "4", "--ndf", "4", "--load-size", "32", "--crop-size", "32",
                 "--pool-size", "2"],
    "srgan": ["--scale", "4", "--patch-size", "16", "--num-blocks", "1", "--num-feat", "8", "--head-kernel", "3",
              "--batch-size", "2"],
    "derain": ["--ngf", "4", "--growth", "4", "--layers-per-block", "1", "--levels", "2", "--ndf", "4",
               "--n-layers-D", "1", "--num-D", "1", "--crop-size", "16", "--batch-size", "2",
               "--lambda-perceptual", "0"],
    "inpaint": ["--ngf", "4", "--max-channels", "8", "--bottleneck", "16", "--bottleneck-groups", "4", "--ndf", "4",
                "--n-layers-D", "1", "--batch-size", "2"],
}


def shrink(sources: list[Path], folder: Path, side: int, names: list[str] | None = None) -> Path:
    """Copies of ``sources`` resized to ``side`` x ``side`` png in ``folder`` (named ``names`` or as the source)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, src in enumerate(sources):
        rgb = cv2.resize(to_uint(read_image(src).rgb), (side, side), interpolation=cv2.INTER_AREA)
        write_png(folder / (names[i] if names else src.stem + ".png"), rgb)
    return folder


def convert(*args) -> None:
    assert main(["convert", *map(str, args), "--quiet"]) == 0


def check(folder: Path, layout: str, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["convert", "check", str(folder), "--layout", layout, "--quiet"])
    return code, capsys.readouterr().out


def train(recipe: str, data: Path, out: Path, monkeypatch, *extra: str) -> tuple[int, int | None]:
    """`translate train RECIPE --data DATA ... --max-iters 1`: (exit code, items of its dataset)."""
    cls = get_recipe(recipe)
    build = cls.build_dataset.__func__
    items: list[int] = []

    def counting(klass, config):
        dataset = build(klass, config)
        items.append(len(dataset))
        return dataset

    monkeypatch.setattr(cls, "build_dataset", classmethod(counting))
    code = main(["train", recipe, "--data", str(data), "--out", str(out), *COMMON, *TINY[recipe], *extra])
    return code, items[0] if items else None


def trains(recipe: str, data: Path, tmp_path: Path, monkeypatch, items: int, *extra: str) -> None:
    code, seen = train(recipe, data, tmp_path / f"run-{recipe}", monkeypatch, *extra)
    assert (code, seen) == (0, items)
    assert (tmp_path / f"run-{recipe}" / "checkpoints" / "latest.pt").is_file()


# --------------------------------------------------------------------------------------------
# end to end: convert -> check -> train, for every layout convert writes


def test_aligned_from_combine(shared_data, tmp_path, capsys, monkeypatch):
    split = shared_data / "paired" / "facades_split"
    names = sorted(p.name for p in (split / "A").iterdir())[:3]
    a = shrink([split / "A" / n for n in names], tmp_path / "A", 32)
    b = shrink([split / "B" / n for n in names], tmp_path / "B", 32)
    convert("combine", a, b, tmp_path / "ds")
    code, out = check(tmp_path / "ds", "aligned", capsys)
    assert code == 0 and "the recipe sees 3 training pairs, A and B each 32x32" in out
    trains("pix2pix", tmp_path / "ds", tmp_path, monkeypatch, 3)


def test_unaligned_from_unpaired_and_aligned_from_unpaired(shared_data, tmp_path, capsys, monkeypatch):
    cats = sorted((shared_data / "unpaired" / "cat2dog" / "trainA").iterdir())[:3]
    dogs = sorted((shared_data / "unpaired" / "cat2dog" / "trainB").iterdir())[:3]
    a = shrink(cats, tmp_path / "cats", 32, [f"{i}.png" for i in range(3)])
    b = shrink(dogs, tmp_path / "dogs", 32, [f"{i}.png" for i in range(3)])
    convert("unpaired", a, b, tmp_path / "ds", "--test-fraction", "0.34")
    code, out = check(tmp_path / "ds", "unaligned", capsys)
    assert code == 0 and "trainA/: 2 images" in out and "testB/: 1 images" in out
    trains("cyclegan", tmp_path / "ds", tmp_path, monkeypatch, 2)  # max(|trainA|, |trainB|)

    # the same folders as corresponding pairs -> A|B (train/ + test/) -> the pix2pix recipe
    convert("aligned-from-unpaired", tmp_path / "ds", tmp_path / "ab", "--by-order")
    code, out = check(tmp_path / "ab", "aligned", capsys)
    assert code == 0 and "the recipe sees 2 training pairs" in out and "test/: 1 images" in out
    trains("pix2pix", tmp_path / "ab", tmp_path, monkeypatch, 2)


def test_sr_from_convert_sr_trains_and_evaluates_without_torch(shared_data, tmp_path, capsys, monkeypatch):
    """Issue 12: `convert sr` output passed `check` but `train srgan --data` found no images."""
    hr = shrink(sorted((shared_data / "sr" / "Set5").iterdir())[:3], tmp_path / "hr", 48)
    convert("sr", hr, tmp_path / "srdata", "--scale", "4")
    code, out = check(tmp_path / "srdata", "sr", capsys)
    assert code == 0 and "the recipe sees 3 training images (shortest side 48 px; images with a side under " \
        "--patch-size are left out)" in out
    assert "HR/LR_x4: 3 pairs" in out
    trains("srgan", tmp_path / "srdata", tmp_path, monkeypatch, 3)
    # several folders, each an SR layout or a plain folder of HR images
    code, seen = train("srgan", Path(f"{tmp_path / 'srdata'},{hr}"), tmp_path / "run2", monkeypatch)
    assert (code, seen) == (0, 6)

    # `translate eval sr` reads the layout's HR/ too, and on an .onnx model never imports torch
    onnx = tmp_path / "sr.onnx"
    assert main(["export", str(tmp_path / "run-srgan"), "-o", str(onnx)]) == 0
    code = ("import sys\nfrom translate.cli import main\n"
            f"rc = main(['eval', 'sr', '--model', {str(onnx)!r}, '--data', {str(tmp_path / 'srdata')!r}, '--json'])\n"
            "assert rc == 0, rc\nassert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count('"image"') == 6  # 3 HR images x (bicubic, model)


def test_derain_from_convert_rain(shared_data, tmp_path, capsys, monkeypatch):
    clean = shrink(sorted((shared_data / "sr" / "Set5").iterdir())[:3], tmp_path / "clean", 32)
    convert("rain", clean, tmp_path / "ds")
    code, out = check(tmp_path / "ds", "derain", capsys)
    assert code == 0 and "the recipe sees 3 rain/norain pairs" in out
    trains("derain", tmp_path / "ds", tmp_path, monkeypatch, 3)
    # a folder of clean images is a de-raining layout too (synthetic rain on the fly)
    code, out = check(clean, "derain", capsys)
    assert code == 0 and "the recipe sees 3 training images" in out
    code, seen = train("derain", clean, tmp_path / "run2", monkeypatch)
    assert (code, seen) == (0, 3)


def test_inpaint_with_convert_masks(shared_data, tmp_path, capsys, monkeypatch):
    ds = tmp_path / "ds"
    shrink(sorted((shared_data / "sr" / "Set5").iterdir())[:3], ds / "images", 40)
    convert("masks", ds / "masks", "--count", "2", "--size", "32", "--kind", "block")
    code, out = check(ds, "inpaint", capsys)
    assert code == 0 and "the recipe sees 3 training images" in out and "masks/: 2 images" in out
    # --masks files draws from the layout's masks/ without --mask-dir
    trains("inpaint", ds, tmp_path, monkeypatch, 3, "--masks", "files")
    # the recipe's plain folder of images (issue 12: check wanted images/ + masks/) is accepted by both
    code, out = check(ds / "images", "inpaint", capsys)
    assert code == 0 and "the recipe sees 3 training images" in out
    code, seen = train("inpaint", ds / "images", tmp_path / "run2", monkeypatch)
    assert (code, seen) == (0, 3)


def test_every_layout_has_a_writer_and_a_recipe():
    assert set(LAYOUTS) == {"aligned", "unaligned", "sr", "derain", "inpaint"}
    for lay in LAYOUTS.values():
        assert lay.recipes and lay.writers
        for recipe in lay.recipes:
            get_recipe(recipe)
        for writer in lay.writers:
            with pytest.raises(SystemExit) as e:
                main(["convert", writer, "--help"])
            assert e.value.code == 0


# --------------------------------------------------------------------------------------------
# regressions and negative cases: check says no exactly when training says no


def test_derain_pair_rule_is_one(shared_data, tmp_path, capsys, monkeypatch):
    """Issue 12: the recipe paired rain-1 / norain_1 and Rain_7 / norain 7, check called them unpartnered."""
    src = shared_data / "derain" / "RainTrainH_mini"
    rain = sorted((src / "rain").iterdir())[:2]
    norain = [src / "norain" / ("no" + p.name) for p in rain]
    ds = tmp_path / "ds"
    shrink(rain, ds / "rain", 32, ["rain-1.png", "Rain_7.png"])
    shrink(norain, ds / "norain", 32, ["norain_1.png", "norain 7.png"])
    code, out = check(ds, "derain", capsys)
    assert code == 0 and "the recipe sees 2 rain/norain pairs" in out
    assert [(a.name, b.name) for a, b in DERAIN.find(ds).pairs["norain"]] == [("Rain_7.png", "norain 7.png"),
                                                                             ("rain-1.png", "norain_1.png")]
    code, seen = train("derain", ds, tmp_path / "run", monkeypatch)
    assert (code, seen) == (0, 2)
    # and `translate eval derain` pairs them by the same rule
    assert main(["eval", "derain", "--data", str(ds), "--json"]) == 0
    assert capsys.readouterr().out.count('"image"') == 2
    assert rain_pair_key(Path("RAIN-003.jpg")) == rain_pair_key(Path("003.png")) == "003"


def _negative_cases(root: Path) -> dict[str, tuple[str, Path, str]]:
    """name -> (layout / recipe, folder, a phrase of the error both give)."""
    cases = {}
    d = root / "derain"  # a rainy image without its clean partner
    (d / "rain").mkdir(parents=True)
    (d / "norain").mkdir()
    for i in (1, 2):
        write_png(d / "rain" / f"rain-{i}.png", random_image(32, 32, seed=i))
    write_png(d / "norain" / "norain-1.png", random_image(32, 32, seed=5))
    cases["derain"] = ("derain", d, "have no clean partner")
    u = root / "unaligned"  # trainB/ without images
    (u / "trainA").mkdir(parents=True)
    (u / "trainB").mkdir()
    write_png(u / "trainA" / "a.png", random_image(32, 32))
    cases["unaligned"] = ("unaligned", u, "trainB: no images found")
    s = root / "sr"  # an SR layout without HR/
    (s / "LR_x4").mkdir(parents=True)
    write_png(s / "LR_x4" / "a.png", random_image(8, 8))
    cases["sr"] = ("sr", s, "no images found (missing HR/)")
    a = root / "aligned"  # an empty folder
    a.mkdir()
    cases["aligned"] = ("aligned", a, "no images found (missing train/)")
    return cases


@pytest.mark.parametrize("name", ["derain", "unaligned", "sr", "aligned"])
def test_check_says_no_and_train_agrees(name, tmp_path, capsys, monkeypatch):
    layout, folder, phrase = _negative_cases(tmp_path)[name]
    code, out = check(folder, layout, capsys)
    assert code == 1 and phrase in out
    recipe = LAYOUTS[layout].recipes[0]
    code, seen = train(recipe, folder, tmp_path / "run", monkeypatch)
    err = capsys.readouterr().err
    assert code == 2 and seen is None and phrase in err
    assert "Traceback" not in err


def test_unreadable_training_file_fails_check(tmp_path, capsys):
    ds = tmp_path / "ds"
    (ds / "HR").mkdir(parents=True)
    (ds / "HR" / "broken.png").write_bytes(b"not a png")
    code, out = check(ds, "sr", capsys)
    assert code == 1 and "HR/broken.png" in out


# --------------------------------------------------------------------------------------------
# the rules themselves


def test_hidden_files_are_seen_by_nobody(tmp_path):
    write_png(tmp_path / "a.png", random_image(8, 8))
    (tmp_path / "._a.png").write_bytes(b"\x00\x05")  # macOS metadata beside a copied image
    assert [p.name for p in image_files(tmp_path)] == ["a.png"]
    assert [p.name for p in INPAINT.find(tmp_path).training_files()] == ["a.png"]


def test_one_mask_rule_for_training_and_running(tmp_path):
    from translate.data.inpaint import InpaintDataset
    from translate.run.pipeline import read_mask_file

    mask = np.zeros((16, 16), np.uint8)
    mask[:8] = 128  # just above the middle grey: a hole
    mask[8:] = 127
    (tmp_path / "masks").mkdir()
    path = write_png(tmp_path / "masks" / "m.png", mask)
    hole = read_mask(path)
    assert hole[:8].all() and not hole[8:].any()
    assert np.array_equal(read_mask_file(path, (16, 16)), hole)
    assert np.array_equal(hole_mask(mask), hole) and np.array_equal(hole_mask(mask.astype(np.uint16) * 257), hole)
    images = tmp_path / "images"
    images.mkdir()
    write_png(images / "a.png", random_image(128, 128))
    ds = InpaintDataset([tmp_path], ["files"])  # masks/ of the layout, read by the same rule
    assert ds.mask_files == [path]
    m = ds[0]["M"][0].numpy()
    assert m[:64].min() == 1 and m[64:].max() == 0


def test_sr_layout_folders(tmp_path):
    (tmp_path / "HR").mkdir()
    (tmp_path / "LR_x2").mkdir()
    write_png(tmp_path / "HR" / "0001.png", random_image(8, 8))
    write_png(tmp_path / "LR_x2" / "0001x2.png", random_image(4, 4))  # DIV2K naming
    found = SR.find(tmp_path)
    assert not found.errors and not found.warnings
    assert [(a.name, b.name) for a, b in found.pairs["LR_x2"]] == [("0001.png", "0001x2.png")]
    assert found.training_files() == [tmp_path / "HR" / "0001.png"]
