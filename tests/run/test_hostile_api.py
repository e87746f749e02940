"""Hostile input through the Python API and the shared modules: `translate.load`, Translator,
`translate.run.runtime.Session`, imageio, fileio, errors (issue 11). Each case checks the error type
and message and that no file the call reads was changed."""

import errno
import os

import numpy as np
import pytest
import torch

import translate
from translate import fileio
from translate.errors import TranslateError, printable
from translate.imageio import PIXEL_LIMIT_ENV, read_image, write_image
from translate.resilience import remove_stale_temp_files_of
from translate.run.runtime import Session

from tests.helpers import random_image, save_official_generator, write_png
from tests.hostile_helpers import digests, write_identity_onnx, write_lying_png, write_truncated


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile_api")
    pth = folder / "m.pth"
    save_official_generator(pth, "resnet_6blocks", ngf=8)
    return {"pth": pth, "model": translate.load(str(pth), device="cpu"),
            "onnx": write_identity_onnx(folder / "id.onnx"), "lying_onnx": write_identity_onnx(folder / "x4.onnx", scale=4)}


@pytest.fixture
def image(tmp_path):
    return write_png(tmp_path / "a.png", random_image(32, 32))


# --- user files are never overwritten -------------------------------------------------------

def test_translate_file_refuses_its_own_input(tiny, image):
    before = digests(image)
    with pytest.raises(TranslateError, match="overwrite an input"):
        tiny["model"].translate_file(image, image)
    assert digests(image) == before


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_translate_file_refuses_a_link_to_its_input(tiny, image, link):
    alias = image.with_name("alias.png")
    (os.link if link == "hard" else os.symlink)(image, alias)
    before = digests(image)
    with pytest.raises(TranslateError, match="overwrite an input"):
        tiny["model"].translate_file(image, alias)
    assert digests(image) == before and os.path.islink(alias) == (link == "symbolic")


def test_translate_file_refuses_the_model_file(tiny, image, tmp_path):
    alias = tmp_path / "weights.png"
    os.symlink(tiny["pth"], alias)  # an image-named link to the model file
    before = digests(tiny["pth"])
    with pytest.raises(TranslateError, match="overwrite an input"):
        tiny["model"].translate_file(image, alias)
    hard = tmp_path / "model.png"
    os.link(tiny["onnx"], hard)  # an image-named hard link to the Session's own file
    before.update(digests(tiny["onnx"]))
    with pytest.raises(TranslateError, match="overwrite an input"):
        Session(tiny["onnx"], device="cpu").translate_file(image, hard)
    assert digests(tiny["pth"], tiny["onnx"]) == before


def test_inpaint_translate_file_refuses_its_mask(tmp_path):
    model = translate.load("inpaint", device="cpu")
    src = write_png(tmp_path / "in.png", random_image(64, 64))
    mask = write_png(tmp_path / "m.png", np.zeros((64, 64), np.uint8))
    before = digests(src, mask)
    with pytest.raises(TranslateError, match="overwrite an input"):
        model.translate_file(src, mask, mask=mask)
    assert digests(src, mask) == before


# --- arrays and devices ---------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(0, 5), (5, 0, 3), (0, 0, 4)])
def test_empty_arrays_are_refused(tiny, shape):
    for model in (tiny["model"], Session(tiny["onnx"], device="cpu")):
        with pytest.raises(TranslateError, match="empty"):
            model(np.zeros(shape, np.uint8))


def test_wrong_kinds_of_arrays(tiny):
    model = tiny["model"]
    with pytest.raises(TypeError):
        model([[1, 2], [3, 4]])
    for bad in (np.zeros((4, 4)), np.zeros((4, 4, 3), bool), np.zeros((4, 4, 2), np.uint8)):
        with pytest.raises(TranslateError):
            model(bad)


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 2, 3), (1, 40, 3), (3, 1)])
def test_tiny_images_run(tiny, shape):
    # a 1-pixel side used to reach the ResNet bottleneck as 1x1 (reflection pad / instance norm crash)
    out = tiny["model"](np.full(shape, 100, np.uint8))
    assert out.shape[:2] == shape[:2]


@pytest.mark.skipif(torch.cuda.device_count() > 7, reason="this machine has a cuda:7")
def test_missing_gpu_is_one_line_naming_the_devices(tiny):
    with pytest.raises(TranslateError) as info:
        translate.load(str(tiny["pth"]), device="cuda:7")
    assert "this machine has cpu" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(TranslateError, match="unknown device"):
        translate.load(str(tiny["pth"]), device="cuda:x")
    with pytest.raises(TranslateError, match="unknown device"):
        Session(tiny["onnx"], device="cuda:0")


def test_bad_model_paths(tmp_path):
    (tmp_path / "folder.onnx").mkdir()
    with pytest.raises(TranslateError, match="is a folder"):
        translate.load(str(tmp_path / "folder.onnx"))
    (tmp_path / "run").mkdir()
    with pytest.raises(TranslateError, match="without checkpoints/latest.pt"):
        translate.load(str(tmp_path / "run"), device="cpu")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(TranslateError, match="empty"):
        translate.load(str(tmp_path / "empty.pth"), device="cpu")
    (tmp_path / "junk.onnx").write_bytes(os.urandom(200))
    with pytest.raises(TranslateError, match="junk.onnx"):
        Session(tmp_path / "junk.onnx", device="cpu")


def test_model_that_contradicts_its_card_names_the_file(tiny, image, tmp_path):
    session = Session(tiny["lying_onnx"], device="cpu")
    with pytest.raises(TranslateError, match="x4.onnx.*does not match its card") as info:
        session(random_image(8, 8))
    assert info.value.stop_batch
    with pytest.raises(TranslateError, match="x4.onnx"):
        session.translate_file(image, tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


def test_nul_byte_in_a_file_name(tiny, tmp_path):
    with pytest.raises(TranslateError, match="not a valid file name"):
        tiny["model"].translate_file(str(tmp_path / "a\0.png"), tmp_path / "out.png")


# --- image decoding -------------------------------------------------------------------------

def test_lying_header_is_an_unreadable_image_and_says_how_to_allow_it(tmp_path, capfd):
    with pytest.raises(TranslateError, match=PIXEL_LIMIT_ENV) as info:
        read_image(write_lying_png(tmp_path / "bomb.png"))
    assert "bomb.png" in str(info.value) and "too" not in capfd.readouterr().err


@pytest.mark.parametrize("name", ["cut.png", "cut.jpg", "cut.webp", "cut.tif"])
def test_truncated_files_are_errors_and_decoders_stay_quiet(tmp_path, capfd, name):
    path = write_truncated(tmp_path / name)
    with pytest.raises(TranslateError, match=name):
        read_image(path)
    err = capfd.readouterr().err
    assert "libpng" not in err and "JPEG" not in err and "WARN" not in err and "TIFF" not in err, err


def test_quiet_decoders_keep_other_output(tmp_path, capfd):
    from translate.imageio import _quiet_codecs

    with _quiet_codecs():
        os.write(2, b"libpng warning: iCCP: known incorrect sRGB profile\n")
        os.write(2, b"a message of someone else\n")
        os.write(2, b"[ERROR:0@6.9] global loadsave.cpp:1705 imencodeWithMetadata imencode(): can't encode\n\n")
    assert capfd.readouterr().err == "a message of someone else\n"


def test_encoder_limits_are_one_line(capfd):
    from translate.imageio import encode_image

    for shape, ext in (((1, 70000, 3), ".jpg"), ((1, 20000, 3), ".webp")):
        with pytest.raises(TranslateError, match="write .png or .tif instead"):
            encode_image(np.zeros(shape, np.float32), ext)
    with pytest.raises(TranslateError, match="without a suffix"):
        encode_image(np.zeros((2, 2, 3), np.float32), "")
    assert capfd.readouterr().err == ""


# --- writing --------------------------------------------------------------------------------

def test_disk_full_is_one_write_error_and_leaves_nothing(tmp_path, monkeypatch):
    target = write_png(tmp_path / "keep.png", random_image(8, 8))
    before = digests(tmp_path)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fileio.os, "fsync", full)
    with pytest.raises(fileio.WriteError, match="disk is full") as info:
        write_image(target, np.zeros((8, 8, 3), np.float32))
    assert isinstance(info.value, OSError) and info.value.errno == errno.ENOSPC and info.value.stop_batch
    assert str(info.value).startswith("cannot write") and digests(tmp_path) == before  # old file kept, no temp


def test_file_in_the_way_and_too_long_names(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(fileio.WriteError, match="a file stands where a folder is needed"):
        fileio.atomic_write_bytes(blocker / "sub" / "out.bin", b"data")
    with pytest.raises(fileio.WriteError, match="too long"):
        fileio.atomic_write_bytes(tmp_path / ("n" * 300), b"data")
    with pytest.raises(fileio.WriteError, match="too long"):
        fileio.check_can_create(tmp_path / ("n" * 300) / "out.png")
    assert blocker.read_bytes() == b"x"


def test_longest_legal_name_is_writable(tmp_path):
    # the temp file's name is longer than its target's: it is cut so that 255-byte names work
    target = tmp_path / ("l" * 251 + ".png")
    fileio.atomic_write_bytes(target, b"data")
    assert target.read_bytes() == b"data" and os.listdir(tmp_path) == [target.name]


def test_stale_temp_files_of_targets_only(tmp_path):
    target = tmp_path / "a_m.png"
    ours = [tmp_path / ".a_m.png.k2j_x9ab.tmp", tmp_path / ".a_m.png.abc123.tmp"]
    kept = [tmp_path / ".b_m.png.k2j_x9ab.tmp", tmp_path / "a_m.png.tmp", tmp_path / ".a_m.png.tmp",
            tmp_path / ".a_m.png.x.y.tmp", tmp_path / "a_m.png"]
    for p in ours + kept:
        p.write_bytes(b"x")
    link = tmp_path / ".a_m.png.lnk12345.tmp"
    os.symlink(tmp_path / "a_m.png", link)  # a symlink is never ours
    assert sorted(remove_stale_temp_files_of([target])) == sorted(ours)
    assert all(p.exists() for p in kept) and os.path.islink(link)


def test_printable_keeps_messages_on_one_line():
    name = "a\nb\x1b[2J\u202egnp.exe" + os.fsdecode(b"\xff") + " é"
    shown = printable(f"skipped {name}")
    assert shown == "skipped a\\nb\\x1b[2J\\u202egnp.exe\\xff é"
    shown.encode("utf-8", "strict")
