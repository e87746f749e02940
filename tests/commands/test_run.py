"""`translate run` end to end: files, folders, globs, odd sizes, alpha, EXIF, bad files."""

import hashlib

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from translate.cli import main
from translate.imageio import read_image

from tests.helpers import random_image, save_official_generator, write_png


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "m.pth"
    save_official_generator(path, "resnet_6blocks", ngf=8)
    return str(path)


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "photos"
    d.mkdir()
    write_png(d / "odd.png", random_image(257, 301))
    write_png(d / "gray.png", random_image(50, 40, c=1))
    write_png(d / "rgba.png", random_image(48, 64, c=4))
    write_png(d / "deep.png", random_image(32, 36, dtype=np.uint16))
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    (d / "empty.jpg").write_bytes(b"")
    (d / "notes.jpg").write_text("not an image")
    return d


def test_folder_with_bad_files(folder, model, tmp_path, capsys):
    before = digest(folder)
    out = tmp_path / "out"
    assert main(["run", model, str(folder), "-o", str(out), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    for bad in ("corrupt.png", "empty.jpg", "notes.jpg"):
        assert bad in err
    assert "Traceback" not in err
    assert digest(folder) == before  # inputs untouched
    assert read_image(out / "odd_m.png").size == (257, 301)
    assert read_image(out / "gray_m.png").size == (50, 40)
    rgba_in, rgba_out = read_image(folder / "rgba.png"), read_image(out / "rgba_m.png")
    assert np.array_equal(rgba_in.alpha, rgba_out.alpha)
    assert read_image(out / "deep_m.png").bit_depth == 16


def test_default_outputs_are_siblings_and_never_inputs(folder, model, capsys):
    src = folder / "odd.png"
    assert main(["run", model, str(src), "--device", "cpu"]) == 0
    assert (folder / "odd_m.png").is_file()
    assert main(["run", model, str(src), "-o", str(src), "--device", "cpu"]) == 2
    assert "overwrite an input" in capsys.readouterr().err
    # a folder input writes into a sibling folder, so re-running never feeds outputs back in
    (folder / "odd_m.png").unlink()
    for bad in ("corrupt.png", "empty.jpg", "notes.jpg"):
        (folder / bad).unlink()
    assert main(["run", model, str(folder), "--device", "cpu"]) == 0
    assert sorted(p.name for p in (folder.parent / "photos_m").iterdir()) == [
        "deep_m.png", "gray_m.png", "odd_m.png", "rgba_m.png"]


def test_glob_and_single_output_file(folder, model, tmp_path):
    assert main(["run", model, str(folder / "o*.png"), "-o", str(tmp_path / "r.jpg"), "--device", "cpu"]) == 0
    assert cv2.imread(str(tmp_path / "r.jpg")).shape == (257, 301, 3)


def test_exif_rotated_jpeg(tmp_path, model):
    src = tmp_path / "rotated.jpg"
    pil = PILImage.fromarray(random_image(40, 60))
    exif = pil.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    pil.save(src, exif=exif)
    assert main(["run", model, str(src), "--device", "cpu"]) == 0
    assert read_image(tmp_path / "rotated_m.png").size == (60, 40)


def test_tiled_run_and_bad_options(folder, model, tmp_path, capsys):
    out = tmp_path / "t.png"
    assert main(["run", model, str(folder / "odd.png"), "-o", str(out), "--tile", "64", "--tile-overlap", "16",
                 "--device", "cpu"]) == 0
    assert read_image(out).size == (257, 301)
    assert main(["run", model, str(folder / "odd.png"), "--tile", "32", "--tile-overlap", "32"]) == 2
    assert main(["run", "no_such_model", str(folder / "odd.png")]) == 2
    assert main(["run", model, str(tmp_path / "missing.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("translate: error:") == 3 and "Traceback" not in err


def test_stride_one_tiling_is_refused_before_the_model_loads(folder, model, capsys, monkeypatch):
    import translate.run.inference

    monkeypatch.setattr(translate.run.inference, "load", lambda *a, **k: pytest.fail("the model was loaded"))
    before = digest(folder)
    assert main(["run", model, str(folder / "odd.png"), "--tile", "16", "--tile-overlap", "15"]) == 2
    out, err = capsys.readouterr()
    assert err == ("translate: error: --tile-overlap 15 is more than half of --tile 16: each tile would add only 1 new "
                   "px; use --tile-overlap 8 or less\n")
    assert out == "" and digest(folder) == before


def test_out_of_memory_is_reported_per_file_with_the_fix(folder, model, tmp_path, capsys, monkeypatch):
    from translate.run.pipeline import Translator

    def allocation_fails(self, src, dst, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(Translator, "translate_file", allocation_fails)
    assert main(["run", model, str(folder / "odd.png"), "-o", str(tmp_path / "x.png"), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "out of memory" in err and "--tile" in err and "Traceback" not in err


def test_other_runtime_errors_are_not_hidden(folder, model, tmp_path, monkeypatch):
    from translate.run.pipeline import Translator

    def bug(self, src, dst, **kwargs):
        raise RuntimeError("shape mismatch in some layer")

    monkeypatch.setattr(Translator, "translate_file", bug)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        main(["run", model, str(folder / "odd.png"), "-o", str(tmp_path / "x.png"), "--device", "cpu"])
