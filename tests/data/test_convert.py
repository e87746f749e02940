"""Tests of `translate convert` (translate.data.convert and translate.commands.convert).

Small images are made here; the real-data tests use ../shared/data and skip without it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from translate.cli import main
from translate.data.convert.outputs import ConvertOptions
from translate.data.convert.sr import sr
from translate.data.degradations import imresize_matlab
from translate.errors import TranslateError
from translate.imageio import read_image, to_uint

SUBCOMMANDS = ("combine", "split", "unpaired", "aligned-from-unpaired", "sr", "rain", "masks", "check")


# ---------------------------------------------------------------------------------------------
# helpers


def rgb(h: int, w: int, seed: int = 0, dtype=np.uint8) -> np.ndarray:
    peak = 65535 if dtype == np.uint16 else 255
    return np.random.default_rng(seed).integers(0, peak + 1, (h, w, 3)).astype(dtype)


def save(path: Path, array: np.ndarray) -> Path:
    """Write an RGB(A) or gray array (RGB order) with OpenCV, making folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 3:
        array = cv2.cvtColor(array, cv2.COLOR_RGBA2BGRA if array.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), array)
    return path


def pixels(path: Path) -> np.ndarray:
    """Decoded RGB uint8 (or uint16) pixels of a file."""
    img = read_image(path)
    return to_uint(img.rgb, img.bit_depth)


def fingerprint(root: Path) -> dict[str, tuple[str, int, int]]:
    """Hash, mtime and mode of every file under root: proves inputs are left untouched."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest()
            out[p.relative_to(root).as_posix()] = (digest, st.st_mtime_ns, st.st_mode)
    return out


def files(root: Path) -> list[str]:
    """The files under ``root`` except convert's record of what it wrote (.translate-convert.json)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and p.name != ".translate-convert.json")


def run(*argv) -> int:
    return main(["convert", *map(str, argv), "--quiet"])


# ---------------------------------------------------------------------------------------------
# combine / split


def test_facades_combine_then_split_gives_back_the_exact_pixels(shared_data, tmp_path):
    src = shared_data / "paired" / "facades_split"
    if not (src / "A").is_dir():
        pytest.skip(f"{src} not present")
    # The set is png; re-encode as png in any case so the round trip is lossless by construction.
    for side in "AB":
        for f in (src / side).iterdir():
            save(tmp_path / "in" / side / f"{f.stem}.png", pixels(f))
    before = fingerprint(src)
    ab, back = tmp_path / "ab", tmp_path / "back"

    assert run("combine", tmp_path / "in" / "A", tmp_path / "in" / "B", ab) == 0
    assert files(ab) == files(tmp_path / "in" / "A")
    for name in files(ab):
        a, b = pixels(tmp_path / "in" / "A" / name), pixels(tmp_path / "in" / "B" / name)
        np.testing.assert_array_equal(pixels(ab / name), np.concatenate([a, b], axis=1))
    assert run("split", ab, back) == 0
    for side in "AB":
        assert files(back / side) == files(tmp_path / "in" / side)
        for name in files(back / side):
            np.testing.assert_array_equal(pixels(back / side / name), pixels(tmp_path / "in" / side / name))
    assert fingerprint(src) == before


def test_combine_pairs_by_name_keeps_subfolders_and_reports_what_it_skips(tmp_path, capsys):
    a, b = tmp_path / "A", tmp_path / "B"
    save(a / "train" / "x.png", rgb(16, 16, 1))
    save(b / "train" / "x.bmp", rgb(16, 16, 2))          # other extension, same stem
    save(a / "train" / "big.png", rgb(16, 16, 3))
    save(b / "train" / "big.png", rgb(32, 24, 4))         # size mismatch
    save(a / "train" / "lonely.png", rgb(16, 16, 5))      # no partner
    save(a / "test" / "t.jpg", rgb(16, 16, 6))
    save(b / "test" / "t.jpg", rgb(16, 16, 7))
    out = tmp_path / "out"

    assert run("combine", a, b, out) == 1
    assert files(out) == ["test/t.jpg", "train/x.png"]  # all-jpg pair -> jpg, otherwise png
    assert pixels(out / "train" / "x.png").shape == (16, 32, 3)
    err = capsys.readouterr().err
    assert "skipped A/train/big.png: A is 16x16 but B is 24x32; use --resize" in err
    assert "skipped A/train/lonely.png: no file named 'lonely'" in err

    resized = tmp_path / "resized"
    assert run("combine", a, b, resized, "--resize", "--ext", "png") == 1  # lonely is still skipped
    assert files(resized) == ["test/t.png", "train/big.png", "train/x.png"]
    assert pixels(resized / "train" / "big.png").shape == (16, 32, 3)


def test_split_skips_images_of_odd_width(tmp_path, capsys):
    save(tmp_path / "ab" / "even.png", rgb(8, 20))
    save(tmp_path / "ab" / "odd.png", rgb(8, 21))
    assert run("split", tmp_path / "ab", tmp_path / "out") == 1
    assert files(tmp_path / "out") == ["A/even.png", "B/even.png"]
    assert "skipped ab/odd.png: width 21 is odd" in capsys.readouterr().err


def test_formats_modes_and_exif_are_read_and_16_bit_is_kept(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    a, b = tmp_path / "A", tmp_path / "B"
    save(a / "gray.png", rgb(12, 12, 1)[..., 0])
    b.mkdir()
    palette = PIL.fromarray(rgb(12, 12, 2)).convert("P")
    palette.save(b / "gray.png")
    save(a / "alpha.png", np.dstack([rgb(12, 12, 3), np.full((12, 12), 128, np.uint8)]))
    save(b / "alpha.webp", rgb(12, 12, 4))
    save(a / "deep.png", rgb(12, 12, 5, np.uint16))
    save(b / "deep.tiff", rgb(12, 12, 6, np.uint16))
    # A jpg whose EXIF says "rotate 90 clockwise": it must be combined upright (12 wide, 8 high).
    exif_jpg = _jpeg_with_orientation(rgb(12, 8, 7), orientation=6)
    (a / "rotated.jpg").write_bytes(exif_jpg)
    save(b / "rotated.jpg", rgb(8, 12, 8))
    out = tmp_path / "out"

    assert run("combine", a, b, out) == 0
    assert files(out) == ["alpha.png", "deep.png", "gray.png", "rotated.jpg"]
    gray = pixels(out / "gray.png")
    assert gray.shape == (12, 24, 3)
    np.testing.assert_array_equal(gray[:, :12], np.repeat(rgb(12, 12, 1)[..., :1], 3, axis=2))
    np.testing.assert_array_equal(gray[:, 12:], np.asarray(palette.convert("RGB")))
    deep = cv2.imread(str(out / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert deep.dtype == np.uint16
    np.testing.assert_array_equal(deep[:, :12, ::-1], rgb(12, 12, 5, np.uint16))
    assert pixels(out / "rotated.jpg").shape == (8, 24, 3)
    assert cv2.imread(str(out / "alpha.png"), cv2.IMREAD_UNCHANGED).shape == (12, 24, 3)  # RGB layout


def _jpeg_with_orientation(array: np.ndarray, orientation: int) -> bytes:
    """JPEG bytes of an RGB array with a minimal EXIF APP1 segment holding only the orientation."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(array, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert ok
    tiff = (b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01"                         # header, 1 entry
            + b"\x01\x12\x00\x03\x00\x00\x00\x01" + orientation.to_bytes(2, "big") + b"\x00\x00"
            + b"\x00\x00\x00\x00")                                             # no next IFD
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    data = buf.tobytes()
    return data[:2] + app1 + data[2:]


# ---------------------------------------------------------------------------------------------
# unpaired / aligned-from-unpaired


def test_unpaired_copies_byte_identical_files_and_draws_test_split_from_the_seed(tmp_path):
    a, b = tmp_path / "cats", tmp_path / "dogs"
    for i in range(10):
        save(a / f"cat{i}.jpg", rgb(8, 8, i))
    for i in range(5):
        save(b / f"dog{i}.png", rgb(8, 8, 100 + i))

    def layout(out: Path, *extra) -> dict[str, list[str]]:
        assert run("unpaired", a, b, out, "--test-fraction", "0.2", *extra) == 0
        return {d.name: sorted(p.name for p in d.iterdir()) for d in sorted(out.iterdir()) if d.is_dir()}

    first = layout(tmp_path / "o1", "--seed", "0")
    assert {k: len(v) for k, v in first.items()} == {"testA": 2, "testB": 1, "trainA": 8, "trainB": 4}
    assert sorted(first["trainA"] + first["testA"]) == sorted(p.name for p in a.iterdir())
    for folder, names in first.items():
        src = a if folder.endswith("A") else b
        for name in names:
            assert (tmp_path / "o1" / folder / name).read_bytes() == (src / name).read_bytes()
    assert layout(tmp_path / "o2", "--seed", "0") == first
    assert layout(tmp_path / "o3", "--seed", "1")["testA"] != first["testA"]

    linked = layout(tmp_path / "o4", "--seed", "0", "--link")
    assert linked == first
    name = linked["trainB"][0]
    assert os.path.samefile(tmp_path / "o4" / "trainB" / name, b / name)


def test_aligned_from_unpaired_by_name_and_by_order(tmp_path, capsys):
    src = tmp_path / "src"
    for split, names in (("train", ["1", "2"]), ("test", ["3"])):
        for i, n in enumerate(names):
            save(src / f"{split}A" / f"{n}.png", rgb(8, 8, 10 * i))
            save(src / f"{split}B" / f"img{n}.png", rgb(8, 8, 10 * i + 1))  # names do not match

    assert run("aligned-from-unpaired", src, tmp_path / "by_name") == 2  # nothing pairs by name
    assert "no file named '1'" in capsys.readouterr().err

    out = tmp_path / "by_order"
    assert run("aligned-from-unpaired", src, out, "--by-order") == 0
    assert files(out) == ["test/3.png", "train/1.png", "train/2.png"]
    np.testing.assert_array_equal(pixels(out / "train" / "2.png"),
                                  np.concatenate([pixels(src / "trainA" / "2.png"),
                                                  pixels(src / "trainB" / "img2.png")], axis=1))

    save(src / "trainB" / "img9.png", rgb(8, 8, 99))
    assert run("aligned-from-unpaired", src, tmp_path / "uneven", "--by-order") == 2
    assert "trainA has 2 images" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# sr / rain / masks


def test_sr_on_set5_makes_modcropped_hr_and_matlab_bicubic_lr(shared_data, tmp_path):
    hr_dir = shared_data / "sr" / "Set5"
    if not hr_dir.is_dir():
        pytest.skip(f"{hr_dir} not present")
    out = tmp_path / "set5"
    assert run("sr", hr_dir, out, "--scale", "4") == 0
    for src in sorted(hr_dir.iterdir()):
        original = pixels(src)
        h, w = original.shape[0] // 4 * 4, original.shape[1] // 4 * 4
        hr, lr = pixels(out / "HR" / src.name), pixels(out / "LR_x4" / src.name)
        np.testing.assert_array_equal(hr, original[:h, :w])
        assert lr.shape == (original.shape[0] // 4, original.shape[1] // 4, 3)
        np.testing.assert_array_equal(lr, imresize_matlab(original[:h, :w], 1 / 4))


def test_sr_patches_are_aligned_and_cover_the_image(tmp_path):
    save(tmp_path / "hr" / "pic.png", rgb(102, 75, 1))  # modcrop to 100 x 72
    out = tmp_path / "out"
    assert run("sr", tmp_path / "hr", out, "--scale", "4", "--patch", "32", "--stride", "24") == 0
    hr = pixels(tmp_path / "hr" / "pic.png")[:100, :72]
    lr = imresize_matlab(hr, 0.25)
    ys, xs = [0, 24, 48, 68], [0, 24, 40]  # the last patch is flush with the bottom / right edge
    names = files(out / "HR")
    assert names == files(out / "LR_x4") == [f"pic_s{k:03d}.png" for k in range(1, 13)]
    for name, (y, x) in zip(names, [(y, x) for y in ys for x in xs]):
        np.testing.assert_array_equal(pixels(out / "HR" / name), hr[y:y + 32, x:x + 32])
        np.testing.assert_array_equal(pixels(out / "LR_x4" / name), lr[y // 4:y // 4 + 8, x // 4:x // 4 + 8])
    assert run("sr", tmp_path / "hr", tmp_path / "bad", "--patch", "30") == 2


def test_rain_makes_named_pairs_reproducibly(tmp_path):
    clean = tmp_path / "clean"
    for i in range(3):
        save(clean / f"c{i}.png", (rgb(40, 48, i) // 2))
    assert run("rain", clean, tmp_path / "r1", "--seed", "5") == 0
    assert files(tmp_path / "r1") == [f"{d}/c{i}.png" for d in ("norain", "rain") for i in range(3)]
    for i in range(3):
        norain, rainy = pixels(tmp_path / "r1" / "norain" / f"c{i}.png"), pixels(tmp_path / "r1" / "rain" / f"c{i}.png")
        np.testing.assert_array_equal(norain, pixels(clean / f"c{i}.png"))
        assert (rainy >= norain).all() and (rainy > norain).mean() > 0.01
    assert run("rain", clean, tmp_path / "r2", "--seed", "5") == 0
    assert fingerprint(tmp_path / "r2").keys() == fingerprint(tmp_path / "r1").keys()
    for name in files(tmp_path / "r1"):
        assert (tmp_path / "r1" / name).read_bytes() == (tmp_path / "r2" / name).read_bytes()
    assert run("rain", clean, tmp_path / "r3", "--seed", "6") == 0
    assert (tmp_path / "r3" / "rain" / "c0.png").read_bytes() != (tmp_path / "r1" / "rain" / "c0.png").read_bytes()

    def coverage(out: Path, density: str) -> float:
        assert run("rain", clean, out, "--density", density, "--intensity", "0.8") == 0
        return float(np.mean([(pixels(out / "rain" / f"c{i}.png") > pixels(out / "norain" / f"c{i}.png") + 8).mean()
                              for i in range(3)]))

    assert coverage(tmp_path / "sparse", "0.001") < coverage(tmp_path / "dense", "0.02")
    assert run("rain", clean, tmp_path / "bad", "--density", "2") == 2
    assert run("rain", clean, tmp_path / "misty", "--light-fraction", "1", "--veil", "0.2") == 0
    lift = pixels(tmp_path / "misty" / "rain" / "c0.png").astype(int) - pixels(tmp_path / "misty" / "norain" / "c0.png")
    assert np.median(lift) == pytest.approx(51, abs=1)  # 0.2 * 255 on every dry pixel
    assert run("rain", clean, tmp_path / "bad_veil", "--veil", "1.5") == 2


def test_masks_command(tmp_path):
    assert run("masks", tmp_path / "centre", "--count", "3", "--size", "32") == 0
    centre = [cv2.imread(str(tmp_path / "centre" / f"mask_0000{i}.png"), cv2.IMREAD_UNCHANGED) for i in (1, 2, 3)]
    assert all(m.shape == (32, 32) and m[8:24, 8:24].all() and m.sum() == 16 * 16 * 255 for m in centre)
    assert run("masks", tmp_path / "s1", "--count", "3", "--size", "64", "--kind", "strokes", "--seed", "1") == 0
    assert run("masks", tmp_path / "s2", "--count", "4", "--size", "64", "--kind", "strokes", "--seed", "1") == 0
    strokes = [(tmp_path / "s1" / n).read_bytes() for n in files(tmp_path / "s1")]
    assert len(set(strokes)) == 3
    assert strokes == [(tmp_path / "s2" / n).read_bytes() for n in files(tmp_path / "s2")][:3]


# ---------------------------------------------------------------------------------------------
# bad inputs, safety, resume


def _bad_files(folder: Path) -> None:
    ok, buf = cv2.imencode(".png", rgb(16, 16, 9))
    data = bytearray(buf.tobytes())
    data[60:100] = bytes(40)  # damage the compressed data
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corrupt.png").write_bytes(bytes(data))
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("this is a text file, not a photo\n")


def test_bad_inputs_are_skipped_and_listed(tmp_path, capsys):
    src = tmp_path / "hr"
    _bad_files(src)
    for i in range(2):
        save(src / f"good{i}.png", rgb(16, 16, i))
    assert run("sr", src, tmp_path / "out", "--scale", "2") == 1
    assert files(tmp_path / "out") == ["HR/good0.png", "HR/good1.png", "LR_x2/good0.png", "LR_x2/good1.png"]
    err = capsys.readouterr().err
    assert "skipped hr/empty.jpg: file is empty" in err
    assert "skipped hr/notes.jpg: not a readable image" in err
    assert "skipped hr/corrupt.png: not a readable image" in err

    only_bad = tmp_path / "bad"
    _bad_files(only_bad)
    assert run("split", only_bad, tmp_path / "out2") == 2
    assert run("unpaired", only_bad, src, tmp_path / "out3") == 1
    assert not (tmp_path / "out3" / "trainA").exists()


def test_refuses_to_write_into_inputs_or_a_non_empty_folder(tmp_path, capsys):
    src = tmp_path / "src"
    save(src / "a.png", rgb(8, 8))
    for out in (src, src / "inside", tmp_path):
        assert run("sr", src, out, "--scale", "2") == 2
        assert "refusing to write into" in capsys.readouterr().err
    other = save(tmp_path / "other" / "a.png", rgb(8, 8)).parent
    assert run("combine", other, src, src / "x") == 2  # the second input counts as well
    assert "refusing to write into input folder" in capsys.readouterr().err

    out = tmp_path / "out"
    save(out / "unrelated.png", rgb(4, 4))
    assert run("sr", src, out, "--scale", "2") == 2
    assert "not empty; use --resume" in capsys.readouterr().err
    assert run("sr", src, out, "--scale", "2", "--overwrite") == 0
    assert files(out) == ["HR/a.png", "LR_x2/a.png", "unrelated.png"]

    assert run("sr", tmp_path / "missing", tmp_path / "o", "--scale", "2") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"translate: error: {tmp_path / 'missing'}: no such input folder"]


def test_sources_are_never_modified(tmp_path):
    a, b = tmp_path / "in" / "A", tmp_path / "in" / "B"
    for i in range(3):
        save(a / f"{i}.png", rgb(16, 16, i))
        save(b / f"{i}.jpg", rgb(16, 16, 10 + i))
    _bad_files(a)
    before = fingerprint(tmp_path / "in")
    o = tmp_path / "out"
    run("combine", a, b, o / "ab")
    run("combine", a, b, o / "ab", "--overwrite")
    run("split", o / "ab", o / "split")
    run("unpaired", a, b, o / "unpaired", "--link")
    run("unpaired", a, b, o / "unpaired", "--link", "--overwrite")
    run("sr", a, o / "sr", "--scale", "2", "--patch", "8")
    run("rain", b, o / "rain")
    run("check", tmp_path / "in", "--layout", "unaligned")
    assert fingerprint(tmp_path / "in") == before


def test_resume_completes_an_interrupted_run(tmp_path, capsys):
    src = tmp_path / "hr"
    for i in range(5):
        save(src / f"{i}.png", rgb(24, 24, i))
    full, part = tmp_path / "full", tmp_path / "part"
    assert run("sr", src, full, "--scale", "2") == 0
    assert run("sr", src, part, "--scale", "2") == 0
    # Simulate an interruption: two outputs missing, one damaged, a stale temp file left behind.
    (part / "HR" / "1.png").unlink()
    (part / "LR_x2" / "3.png").unlink()
    (part / "LR_x2" / "4.png").write_bytes(b"garbage")
    (part / "HR" / ".0.png.abc123.tmp").write_bytes(b"partial")
    untouched = (part / "HR" / "0.png").stat().st_mtime_ns
    capsys.readouterr()

    assert run("sr", src, part, "--scale", "2") == 2  # refused without --resume
    assert run("sr", src, part, "--scale", "2", "--resume") == 0
    summary = capsys.readouterr().out
    assert "3 converted, 2 already done" in summary
    for name in files(full):
        assert (part / name).read_bytes() == (full / name).read_bytes()
    assert (part / "HR" / "0.png").stat().st_mtime_ns == untouched
    assert not (part / "HR" / ".0.png.abc123.tmp").exists(), "the killed write's temp file is removed"


def test_collisions_between_inputs_are_reported(tmp_path, capsys):
    save(tmp_path / "hr" / "x.png", rgb(8, 8, 1))
    save(tmp_path / "hr" / "x.bmp", rgb(8, 8, 2))  # both would become x.png
    assert run("sr", tmp_path / "hr", tmp_path / "out", "--scale", "2") == 1
    assert "would write the same output file as hr/x.bmp" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# check


def check(folder: Path, layout: str, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = run("check", folder, "--layout", layout)
    return code, capsys.readouterr().out


def test_check_aligned(tmp_path, capsys):
    d = tmp_path / "ds"
    save(d / "train" / "1.png", rgb(16, 32, 1))
    save(d / "train" / "2.png", rgb(16, 32, 2))
    save(d / "test" / "3.png", rgb(16, 32, 2))  # same pixels as train/2.png
    code, out = check(d, "aligned", capsys)
    assert code == 0
    assert "train/: 2 images (2 readable), all 32x16" in out
    assert "the recipe sees 2 training pairs, A and B each 16x16" in out
    assert "warning: test/3.png has the same pixels as training image train/2.png" in out

    save(d / "train" / "odd.png", rgb(16, 33, 3))
    _bad_files(d / "train")
    code, out = check(d, "aligned", capsys)
    assert code == 1
    assert "error: train/odd.png: width 33 is odd" in out
    assert "error: train/empty.jpg: file is empty" in out and "error: train/notes.jpg" in out

    # like the pix2pix dataset, a folder of A|B images without train/ is itself the training split
    code, out = check(tmp_path / "ds" / "test", "aligned", capsys)
    assert code == 0 and "the recipe sees 1 training pairs" in out
    (tmp_path / "empty").mkdir()
    code, out = check(tmp_path / "empty", "aligned", capsys)
    assert code == 1 and "no images found (missing train/)" in out


def test_check_unaligned_and_modes(tmp_path, capsys):
    d = tmp_path / "ds"
    save(d / "trainA" / "a.png", rgb(16, 16, 1)[..., 0])
    save(d / "trainA" / "sub" / "hidden.png", rgb(16, 16, 2))
    save(d / "trainB" / "b.png", np.dstack([rgb(16, 16, 3), np.full((16, 16), 255, np.uint8)]))
    save(d / "testA" / "c.png", rgb(16, 16, 4, np.uint16))
    code, out = check(d, "unaligned", capsys)
    assert code == 0
    assert "1 grayscale file(s)" in out and "1 RGBA (alpha dropped) file(s)" in out and "1 16-bit file(s)" in out
    assert "testA/ has no testB/ partner" in out
    assert "trainA/ has 1 image(s) in subfolders" in out
    (d / "trainB" / "b.png").unlink()
    code, out = check(d, "unaligned", capsys)
    assert code == 1 and "trainB: no images found" in out


def test_check_sr_derain_inpaint(tmp_path, capsys):
    sr = tmp_path / "sr"
    assert run("sr", _folder_of(tmp_path / "hr", 3, (20, 28)), sr, "--scale", "4") == 0
    assert check(sr, "sr", capsys)[0] == 0
    save(sr / "LR_x4" / "1.png", rgb(6, 6))
    (sr / "LR_x4" / "2.png").unlink()
    code, out = check(sr, "sr", capsys)
    # the srgan recipe makes its LR images from HR/ and never reads LR_x4/: warnings, not errors
    assert code == 0 and "the recipe sees 3 training images (shortest side 20 px; images with a side under " \
        "--patch-size are left out)" in out
    assert "warning: LR_x4/1.png: 6x6, expected 7x5 to match HR/1.png" in out
    assert "HR: 1 image(s) have no partner in" in out and "(first: 2.png)" in out
    (sr / "HR" / "0.png").write_bytes(b"not an image")
    code, out = check(sr, "sr", capsys)
    assert code == 1 and "error: HR/0.png:" in out

    dr = tmp_path / "derain"
    for i in (1, 2):
        save(dr / "rain" / f"rain-00{i}.png", rgb(8, 12, i))
        save(dr / "norain" / f"norain-00{i}.png", rgb(8, 12, i + 5))
    code, out = check(dr, "derain", capsys)
    assert code == 0 and "the recipe sees 2 rain/norain pairs" in out

    # inpainting: clean images/ and masks/ drawn at random (any size, no partners), as the recipe reads them
    ip = tmp_path / "inpaint"
    save(ip / "images" / "a.png", rgb(16, 16))
    save(ip / "masks" / "m.png", np.where(rgb(8, 8)[..., 0] > 128, 255, 0).astype(np.uint8))
    save(ip / "masks" / "grey.png", np.full((8, 8), 100, np.uint8))
    save(ip / "images" / "b.png", rgb(16, 16))
    code, out = check(ip, "inpaint", capsys)
    assert code == 0 and "the recipe sees 2 training images" in out and "grayscale" not in out
    assert "1 mask(s) are not black and white" in out and "masks/grey.png" in out


def test_check_real_derain_set(shared_data, capsys):
    folder = shared_data / "derain" / "Rain100L"
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    code, out = check(folder, "derain", capsys)
    assert code == 0 and "the recipe sees 10 rain/norain pairs" in out


def _folder_of(folder: Path, count: int, size: tuple[int, int]) -> Path:
    for i in range(count):
        save(folder / f"{i}.png", rgb(*size, seed=i))
    return folder


# ---------------------------------------------------------------------------------------------
# command line


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as e:
        main(["convert", name, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: translate convert {name}")
    if name != "check":
        assert "--workers" in out and "--resume" in out and "--overwrite" in out


def test_api_returns_a_report(tmp_path):
    src = _folder_of(tmp_path / "hr", 2, (16, 16))
    report = sr(src, tmp_path / "out", scale=2, options=ConvertOptions(workers=2, progress=False))
    assert (report.converted, report.already_done, report.files_written, report.exit_code) == (2, 0, 4, 0)
    assert report.summary().startswith("convert sr: 2 converted, 0 skipped; 4 files written")
    with pytest.raises(TranslateError):
        ConvertOptions(overwrite=True, resume=True)
    with pytest.raises(TranslateError):
        ConvertOptions(ext="gif")
