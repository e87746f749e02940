"""Hostile input through the command line: `translate run`, `export`, `zoo`, and `convert check`
on the shared image reader (issue 11). Every case asserts the exit code, exactly one clear
stderr line (no traceback) and that no file the command reads changed (SHA-256 before/after)."""

import errno
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from translate import fileio
from translate.cli import main
from translate.imageio import read_image

from tests.helpers import random_image, save_official_generator, write_png
from tests.hostile_helpers import digests, one_error_line, write_identity_onnx, write_lying_png, write_truncated

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile_models")
    pth = folder / "m.pth"
    save_official_generator(pth, "resnet_6blocks", ngf=8)
    return {"pth": str(pth), "onnx": str(write_identity_onnx(folder / "id.onnx")),
            "lying": str(write_identity_onnx(folder / "x4.onnx", scale=4))}


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        write_png(folder / f"p{i}.png", random_image(32, 32, seed=i))
    return folder


def cli(capsys, *args):
    """Run `translate ARGS`; returns (exit code, stdout, stderr)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *args, code=2):
    """Run a case that must fail: the exit code and its one stderr line."""
    got, _, err = cli(capsys, *args)
    assert got == code, err
    return one_error_line(err)


# --- user files are never overwritten ---------------------------------------------------------

def test_output_onto_the_mask_is_refused(capsys, tmp_path):
    src = write_png(tmp_path / "in.png", random_image(64, 64))
    mask = write_png(tmp_path / "m.png", np.zeros((64, 64), np.uint8))
    before = digests(tmp_path)
    line = refused(capsys, "run", "inpaint", src, "--mask", mask, "-o", mask, "--device", "cpu")
    assert "would overwrite an input" in line and digests(tmp_path) == before


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_output_that_is_a_link_to_an_input_is_refused(capsys, models, photos, link):
    alias = photos.parent / "alias.png"
    (os.link if link == "hard" else os.symlink)(photos / "p0.png", alias)
    before = digests(photos)
    line = refused(capsys, "run", models["pth"], photos / "p0.png", "-o", alias, "--device", "cpu")
    assert "alias.png would overwrite an input" in line and digests(photos) == before


def test_output_that_is_a_link_to_the_model_is_refused(capsys, models, photos):
    alias = photos.parent / "model.png"
    os.symlink(models["pth"], alias)
    before = digests(Path(models["pth"]))
    line = refused(capsys, "run", models["pth"], photos / "p0.png", "-o", alias, "--device", "cpu")
    assert "would overwrite an input" in line and digests(Path(models["pth"])) == before


def test_output_of_one_input_onto_another_input_is_refused(capsys, models, photos):
    write_png(photos / "p0_id.png", random_image(32, 32, seed=9))  # what p0.png would become
    before = digests(photos)
    line = refused(capsys, "run", models["onnx"], photos, "-o", photos, "--device", "cpu")
    assert "p0_id.png would overwrite an input" in line and digests(photos) == before


# --- ordinary OS errors -----------------------------------------------------------------------

def test_unwritable_output_folder(capsys, models, photos, monkeypatch):
    monkeypatch.setattr(fileio.os, "access", lambda path, mode: False)  # what a read-only folder answers
    line = refused(capsys, "run", models["onnx"], photos, "-o", photos.parent / "out", "--device", "cpu")
    assert line.startswith("translate: error: cannot write") and "permission denied" in line


def test_permission_denied_while_writing_skips_the_file(capsys, models, photos, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(fileio.tempfile, "mkstemp", denied)
    line = refused(capsys, "run", models["onnx"], photos / "p0.png", "-o", photos.parent / "o.png",
                   "--device", "cpu", code=1)
    assert line.startswith("translate: skipped") and "o.png: Permission denied" in line


def test_file_where_a_folder_is_expected(capsys, models, photos):
    before = digests(photos)
    line = refused(capsys, "run", models["onnx"], photos / "p0.png", "-o", photos / "p1.png" / "x.png",
                   "--device", "cpu")
    assert "a file stands where a folder is needed" in line and digests(photos) == before


def test_file_name_too_long(capsys, models, photos):
    line = refused(capsys, "run", models["onnx"], photos / "p0.png", "-o", photos.parent / ("x" * 300 + ".png"),
                   "--device", "cpu")
    assert "too long" in line


def test_disk_full_stops_the_folder_run_once(capsys, models, photos, monkeypatch):
    write_png(photos / "p2.png", random_image(32, 32, seed=2))
    out = photos.parent / "out"

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fileio.os, "fsync", full)
    line = refused(capsys, "run", models["onnx"], photos, "-o", out, "--device", "cpu")
    assert "disk is full" in line and "stopped after 0 of 3 files" in line
    assert list(out.iterdir()) == []  # no partial output, no temp file


# --- image headers that lie, broken files -----------------------------------------------------

def test_lying_header_is_a_skipped_file_and_the_rest_is_done(capfd, models, photos):
    write_lying_png(photos / "bomb.png")
    before = digests(photos)
    assert main(["run", models["onnx"], str(photos), "-o", str(photos.parent / "out"), "--device", "cpu"]) == 1
    line = one_error_line(capfd.readouterr().err)  # nothing from libpng / OpenCV either (fd 2)
    assert "bomb.png" in line and "OPENCV_IO_MAX_IMAGE_PIXELS" in line
    assert sorted(p.name for p in (photos.parent / "out").iterdir()) == ["p0_id.png", "p1_id.png"]
    assert digests(photos) == before


@pytest.mark.parametrize("name", ["cut.png", "cut.jpg"])
def test_truncated_image(capfd, models, tmp_path, name):
    src = write_truncated(tmp_path / name)
    assert main(["run", models["onnx"], str(src), "--device", "cpu"]) == 1
    line = one_error_line(capfd.readouterr().err)
    assert line.startswith(f"translate: skipped {src}") and "truncated" in line


def test_convert_check_reports_a_lying_header(capfd, tmp_path):
    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    write_png(data / "train" / "ok.png", random_image(32, 64))
    write_lying_png(data / "train" / "bomb.png")
    code = main(["convert", "check", str(data), "--layout", "aligned"])
    out, err = capfd.readouterr()
    assert code in (1, 2) and "Traceback" not in err and "libpng" not in err and "bomb.png" in out + err


def test_eval_reports_a_lying_header(capfd, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_png(data / "ok.png", random_image(32, 32))
    write_lying_png(data / "bomb.png")
    code = main(["eval", "sr", "--model", "sr-x4", "--data", str(data), "--scale", "4"])
    err = capfd.readouterr().err
    assert code in (1, 2) and "bomb.png" in one_error_line(err)


# --- devices, options, models -----------------------------------------------------------------

@pytest.mark.skipif(torch.cuda.device_count() > 7, reason="this machine has a cuda:7")
def test_missing_gpu(capsys, models, photos):
    line = refused(capsys, "run", models["pth"], photos / "p0.png", "--device", "cuda:7")
    assert "--device cuda:7" in line and "this machine has cpu" in line


@pytest.mark.parametrize("options, message", [
    (["--tile", "8"], "too small"), (["--tile", "64", "--tile-overlap", "-1"], ">= 0"),
    (["--tile", "32", "--tile-overlap", "32"], "smaller than --tile"), (["--ext", "gif"], "cannot write '.gif'"),
    (["--tile", "16", "--tile-overlap", "15"], "use --tile-overlap 8 or less"),
    (["--device", "cuda:x"], "unknown device")])
def test_bad_options(capsys, models, photos, options, message):
    assert message in refused(capsys, "run", models["pth"], photos, "--device", "cpu", *options)


def test_too_many_tiles_is_a_skipped_file_before_the_network_runs(capsys, models, tmp_path, monkeypatch):
    from translate.run import pipeline

    monkeypatch.setattr(pipeline, "run_backend", lambda *a, **k: pytest.fail("the network ran"))
    src = write_png(tmp_path / "big.png", np.zeros((800, 1000, 3), np.uint8))
    before = digests(tmp_path)
    code, out, err = cli(capsys, "run", models["onnx"], src, "--tile", "16", "--tile-overlap", "8", "--device", "cpu")
    assert code == 1 and one_error_line(err) == (
        f"translate: skipped {src}: --tile 16 --tile-overlap 8: a 1000x800 image would take 12276 tiles, more than "
        f"8192 (a network call each); use --tile 20 or more (or 0 for no tiles)")
    assert "0 translated, 1 failed" in out and digests(tmp_path) == before


def test_huge_tile_is_one_tile(capsys, models, photos):
    assert cli(capsys, "run", models["pth"], photos / "p0.png", "--tile", "10000000", "--device", "cpu")[0] == 0


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "without checkpoints/latest.pt"), (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(b"\x00garbage" * 50), "not"), (lambda p: None, "no such file")])
def test_bad_model_files(capsys, photos, tmp_path, make, message):
    model = tmp_path / "model.pth"
    make(model)
    assert message in refused(capsys, "run", model, photos, "--device", "cpu")


# fixed noise (seeded): the parameters are part of the test ids, which every pytest-xdist worker must collect alike
@pytest.mark.parametrize("content", [b"", np.random.default_rng(0).bytes(300)], ids=["empty", "noise"])
def test_bad_onnx_files(capsys, photos, tmp_path, content):
    (tmp_path / "bad.onnx").write_bytes(content)
    assert "bad.onnx" in refused(capsys, "run", tmp_path / "bad.onnx", photos, "--device", "cpu")


def test_model_contradicting_its_card_names_the_model_once(capsys, models, photos):
    line = refused(capsys, "run", models["lying"], photos, "-o", photos.parent / "out", "--device", "cpu")
    assert "x4.onnx" in line and "does not match its card" in line and "stopped after 0 of 2" in line


def test_tiny_images_are_translated(capsys, models, tmp_path):
    for shape in ((1, 1), (1, 40), (3, 2)):
        src = write_png(tmp_path / f"t{shape[0]}x{shape[1]}.png", random_image(*shape, seed=1))
        assert cli(capsys, "run", models["pth"], src, "--device", "cpu")[0] == 0
        assert read_image(tmp_path / f"t{shape[0]}x{shape[1]}_m.png").size == shape


# --- surprising outcomes ----------------------------------------------------------------------

def test_file_named_output_for_several_inputs(capsys, models, photos):
    line = refused(capsys, "run", models["onnx"], photos, "-o", photos.parent / "out.png", "--device", "cpu")
    assert "names a file but there are 2 inputs" in line and not (photos.parent / "out.png").exists()


def test_unsupported_output_format_is_not_a_folder(capsys, models, photos):
    line = refused(capsys, "run", models["onnx"], photos / "p0.png", "-o", photos.parent / "out.gif", "--device", "cpu")
    assert "cannot write '.gif'" in line and not (photos.parent / "out.gif").exists()
    # an explicit folder (trailing slash) is a folder, whatever its name
    assert cli(capsys, "run", models["onnx"], photos, "-o", f"{photos.parent / 'res.png'}/", "--device", "cpu")[0] == 0
    assert (photos.parent / "res.png" / "p0_id.png").is_file()


def test_glob_matching_nothing_and_empty_folder(capsys, models, tmp_path):
    assert "no files match" in refused(capsys, "run", models["onnx"], tmp_path / "*.png", "--device", "cpu")
    (tmp_path / "empty").mkdir()
    assert "no image files" in refused(capsys, "run", models["onnx"], tmp_path / "empty", "--device", "cpu")


def test_newline_in_a_file_name_stays_on_one_line(capsys, models, tmp_path):
    bad = tmp_path / "two\nlines.png"
    bad.write_bytes(b"not an image")
    line = refused(capsys, "run", models["onnx"], bad, "--device", "cpu", code=1)
    assert "two\\nlines.png" in line


def test_zoo_name_with_control_characters(capsys):
    assert "'\\n\\x1b[2J'" in refused(capsys, "zoo", "info", "\n\x1b[2J")


def test_non_utf8_name_under_a_strict_utf8_terminal(models, tmp_path):
    src = tmp_path / os.fsdecode(b"caf\xe9.png")
    src.write_bytes(write_png(tmp_path / "plain.png", random_image(16, 16)).read_bytes())  # cv2.imwrite cannot name it
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    done = subprocess.run([sys.executable, "-m", "translate", "run", models["onnx"], str(src), "--device", "cpu"],
                          capture_output=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert b"caf\\xe9_id.png" in done.stdout and b"Traceback" not in done.stderr
    assert (tmp_path / os.fsdecode(b"caf\xe9_id.png")).is_file()


# --- crash recovery ---------------------------------------------------------------------------

def test_stale_temp_files_of_a_killed_run_are_removed(capsys, models, photos):
    out = photos.parent / "out"
    out.mkdir()
    stale = [out / ".p0_id.png.ab12cd34.tmp", out / ".p1_id.png.x_9.tmp"]
    kept = [out / ".notes.png.ab12cd34.tmp", out / "p0_id.png.tmp", out / ".p0_id.png.tmp"]
    for p in stale + kept:
        p.write_bytes(b"partial")
    before = digests(*kept)
    assert cli(capsys, "run", models["onnx"], photos, "-o", out, "--device", "cpu")[0] == 0
    assert not any(p.exists() for p in stale) and digests(*kept) == before


def test_sigterm_to_the_process_group_stops_cleanly(tmp_path, models):
    """`timeout`, Slurm and Kubernetes signal the whole group: finish the current file, write no
    partial output, one line, exit 130."""
    photos = tmp_path / "big"
    photos.mkdir()
    for i in range(6):
        write_png(photos / f"b{i}.png", random_image(768, 768, seed=i))
    out = tmp_path / "out"
    # tiles of 16 px make each image take a while, so the signal lands in the middle of the folder
    proc = subprocess.Popen([sys.executable, "-m", "translate", "run", models["onnx"], str(photos), "-o", str(out),
                             "--tile", "16", "--tile-overlap", "4", "--device", "cpu"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(p.suffix == ".png" for p in out.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr.decode()
    line = one_error_line(stderr.decode())
    assert line.startswith("translate: stopped by SIGTERM after") and "of 6 files" in line
    written = sorted(out.iterdir())
    assert 1 <= len(written) < 6 and all(p.name.endswith("_id.png") for p in written)  # no temp files
    for p in written:
        assert read_image(p).size == (768, 768)


# --- model files that hold code, long keys or NaN weights -----------------------------------------

class _System:
    """Unpickling this runs ``os.system("touch MARKER")``: what a malicious checkpoint does."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_a_pickle_holding_code_is_refused_for_safety_and_runs_nothing(capfd, photos, tmp_path):
    marker, model = tmp_path / "code_ran", tmp_path / "evil.pth"
    torch.save({"model.1.weight": torch.zeros(2), "meta": {"x": _System(marker)}}, model)
    before = digests(photos)
    assert main(["run", str(model), str(photos), "-o", str(tmp_path / "out"), "--device", "cpu"]) == 2
    line = one_error_line(capfd.readouterr().err)
    assert line.startswith(f"translate: error: {model}: not loaded, for safety: it holds Python objects other "
                           f"than tensors (posix.system)") and "weights_only=False" in line and "state_dict()" in line
    assert not marker.exists() and not (tmp_path / "out").exists() and digests(photos) == before


def test_a_state_dict_with_huge_keys_gives_a_short_line(capsys, photos, tmp_path):
    state = save_official_generator(tmp_path / "m.pth")
    torch.save({**state, "k" * 100_000: torch.zeros(1)}, tmp_path / "long.pth")
    line = refused(capsys, "run", tmp_path / "long.pth", photos, "--device", "cpu")
    assert "1 unexpected keys (kkkk" in line and "k...)" in line, line[:600]
    assert len(line) - len(str(tmp_path)) < 500, len(line)  # the line was 100,074 characters long
    torch.save({f"x{i}" + "y" * 1000: torch.zeros(1) for i in range(50)}, tmp_path / "junk.pth")
    line = refused(capsys, "run", tmp_path / "junk.pth", photos, "--device", "cpu", "--arch", "resnet_6blocks")
    assert "36 missing keys (model.1.weight" in line and "50 unexpected keys (x0yyy" in line, line
    assert "... and 47 more" in line and len(line) - len(str(tmp_path)) < 500, (len(line), line[:600])


def _nan_onnx(path: Path) -> Path:
    """The identity ONNX model with its output multiplied by NaN."""
    model = onnx.load(write_identity_onnx(path))
    model.graph.initializer.append(numpy_helper.from_array(np.array(np.nan, np.float32), "nan"))
    model.graph.node[0].CopyFrom(onnx.helper.make_node("Mul", ["image", "nan"], ["output"]))
    onnx.save(model, str(path))
    return path


def _nan_pth(path: Path) -> Path:
    state = save_official_generator(path)
    torch.save({k: v * float("nan") if k == "model.1.weight" else v for k, v in state.items()}, path)
    return path


@pytest.mark.parametrize("make", [_nan_pth, _nan_onnx], ids=["pth", "onnx"])
def test_a_model_that_outputs_nan_writes_nothing_and_fails_the_file(capsys, photos, tmp_path, make):
    model = make(tmp_path / ("nan.onnx" if make is _nan_onnx else "nan.pth"))
    src, dst = photos / "p0.png", tmp_path / "out.png"
    before = digests(photos)
    with warnings.catch_warnings(record=True) as shown:  # numpy's "invalid value encountered in cast"
        warnings.simplefilter("always")
        code, _, err = cli(capsys, "run", model, src, "-o", dst, "--device", "cpu")
    assert not [str(w.message) for w in shown if issubclass(w.category, RuntimeWarning)]
    line = one_error_line(err)
    assert code == 1, line
    assert line == (f"translate: skipped {src}: model {model} produced NaN or infinite values, so nothing was "
                    f"written; its weights may hold NaN or inf (check the file, or train it again); with "
                    f"--precision fp16 or bf16, try fp32"), line
    assert not dst.exists() and list(tmp_path.glob("*out*")) == [] and digests(photos) == before
    # a folder: each file is skipped in its line, none written
    code, out, err = cli(capsys, "run", model, photos, "-o", tmp_path / "outs", "--device", "cpu")
    assert code == 1 and "0 translated, 2 failed" in out and err.count("produced NaN") == 2
    assert not (tmp_path / "outs").exists() or not any((tmp_path / "outs").iterdir())


# --- export -----------------------------------------------------------------------------------

def test_export_refuses_to_replace_its_weights_through_a_link(capsys, models, tmp_path):
    alias = tmp_path / "m.onnx"
    os.link(models["pth"], alias)
    before = digests(Path(models["pth"]))
    assert "would overwrite an input" in refused(capsys, "export", models["pth"], "-o", alias)
    assert digests(Path(models["pth"])) == before


def test_export_output_under_a_file_fails_before_exporting(capsys, models, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    line = refused(capsys, "export", models["pth"], "-o", blocker / "m.onnx")
    assert "a file stands where a folder is needed" in line


def test_export_on_a_full_disk_writes_nothing(capsys, models, tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fileio.os, "fsync", full)
    code, _, err = cli(capsys, "export", models["pth"], "-o", tmp_path / "m.onnx")
    lines = [line for line in err.splitlines() if line.startswith("translate:")]
    assert code == 2 and "Traceback" not in err and len(lines) == 1 and "disk is full" in lines[0]
    assert list(tmp_path.iterdir()) == []
