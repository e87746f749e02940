"""`translate convert` under hostile and careless input: one clear stderr line per problem (never a
traceback), the documented exit code, and no file of the user's changed, inputs and the user's
own files in the output folder alike.

Cases: ``--overwrite`` / ``--resume`` next to files the command did not write (every subcommand),
hard and symbolic links to inputs, numeric options that would allocate gigabytes or be silently
replaced, overlapping or repeated folders, failing writes, and image headers that lie.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Callable

import pytest

from tests.helpers import random_image, write_png
from tests.hostile_helpers import assert_one_error as one_error
from tests.hostile_helpers import digests, write_lying_png
from translate.cli import main

RECORD = ".translate-convert.json"


def convert(args: list, capsys) -> tuple[int, list[str]]:
    """Run `translate convert ARGS --quiet` in this process; the exit code and the stderr lines."""
    code = main(["convert", *map(str, args), "--quiet"])
    return code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def assert_one_error(code: int, err: list[str], *needles: str) -> None:
    one_error(code, "\n".join(err), 2, *needles)


def images(folder: Path, n: int = 2, h: int = 16, w: int = 16, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        write_png(folder / f"{i}.png", random_image(h, w, seed=seed + i))
    return folder


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    """in/A, in/B (same names), in/AB (A|B pairs), in/pairs/trainA + trainB."""
    root = tmp_path / "in"
    images(root / "A")
    images(root / "B", seed=10)
    images(root / "AB", w=32, seed=20)
    images(root / "pairs" / "trainA", seed=30)
    images(root / "pairs" / "trainB", seed=40)
    return root


#: Each subcommand as (input folders relative to ``in/``, extra options) -> its argument list.
SUBCOMMANDS: dict[str, Callable[[Path, Path], list]] = {
    "combine": lambda i, o: ["combine", i / "A", i / "B", o],
    "split": lambda i, o: ["split", i / "AB", o],
    "unpaired": lambda i, o: ["unpaired", i / "A", i / "B", o, "--test-fraction", "0"],
    "aligned-from-unpaired": lambda i, o: ["aligned-from-unpaired", i / "pairs", o],
    "sr": lambda i, o: ["sr", i / "A", o, "--scale", "2"],
    "rain": lambda i, o: ["rain", i / "A", o],
    "masks": lambda i, o: ["masks", o, "--count", "2", "--size", "16"],
}


def outputs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != RECORD)


# ----------------------------------------------------------------- files the command did not write

@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_overwrite_leaves_a_users_file_at_an_output_path_alone(inputs, tmp_path, capsys, name):
    made = tmp_path / "made"
    assert convert(SUBCOMMANDS[name](inputs, made), capsys)[0] == 0
    target = tmp_path / "out" / outputs(made)[0].relative_to(made)  # a name the command writes
    target.parent.mkdir(parents=True)
    write_png(target, random_image(16, 16, seed=99))  # ... already taken by the user's own image
    before = digests(inputs, target)
    code, err = convert([*SUBCOMMANDS[name](inputs, tmp_path / "out"), "--overwrite"], capsys)
    assert_one_error(code, err, str(target), "not written by translate convert")
    assert digests(inputs, target) == before


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_overwrite_replaces_its_own_files_but_not_ones_edited_since(inputs, tmp_path, capsys, name):
    out = tmp_path / "out"
    assert convert(SUBCOMMANDS[name](inputs, out), capsys)[0] == 0
    assert (out / RECORD).is_file()
    (out / "notes.txt").write_text("the user's notes")  # not an output path: never touched
    assert convert([*SUBCOMMANDS[name](inputs, out), "--overwrite"], capsys)[0] == 0  # its own files: fine
    edited = outputs(out)[0] if outputs(out)[0].name != "notes.txt" else outputs(out)[1]
    write_png(edited, random_image(16, 16, seed=98))  # retouched by the user after the conversion
    before = digests(inputs, edited, out / "notes.txt")
    code, err = convert([*SUBCOMMANDS[name](inputs, out), "--overwrite"], capsys)
    assert_one_error(code, err, str(edited), "changed since")
    assert digests(inputs, edited, out / "notes.txt") == before


def test_resume_does_not_replace_a_users_non_image_file(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    (out / "trainA").mkdir(parents=True)
    (out / "trainA" / "0.png").write_text("my notes, misnamed")  # does not decode: resume would redo it
    before = digests(inputs)
    code, err = convert([*SUBCOMMANDS["unpaired"](inputs, out), "--resume"], capsys)
    assert_one_error(code, err, "0.png", "not written by translate convert")
    assert (out / "trainA" / "0.png").read_text() == "my notes, misnamed" and digests(inputs) == before


@pytest.mark.parametrize("listed", [True, False])
def test_resume_does_not_keep_a_users_image_at_an_output_name(inputs, tmp_path, capsys, listed):
    # A different image of the user's at an output's name (the record lists another content, or
    # does not list the name at all) is not "already done": resume refuses it, never counts it.
    out = tmp_path / "out"
    if listed:
        assert convert(SUBCOMMANDS["unpaired"](inputs, out), capsys)[0] == 0
    else:
        (out / "trainA").mkdir(parents=True)
    target = out / "trainA" / "0.png"
    write_png(target, random_image(16, 16, seed=97))  # decodes, but not what the command wrote
    before = digests(inputs, target)
    code, err = convert([*SUBCOMMANDS["unpaired"](inputs, out), "--resume"], capsys)
    assert_one_error(code, err, str(target), "not written by translate convert")
    assert digests(inputs, target) == before


def test_a_foreign_record_file_is_refused(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / RECORD).write_text('{"mine": true}')
    code, err = convert([*SUBCOMMANDS["unpaired"](inputs, out), "--overwrite"], capsys)
    assert_one_error(code, err, RECORD, "not the record")
    assert (out / RECORD).read_text() == '{"mine": true}'


def test_links_to_inputs_are_never_written_through(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    before = digests(inputs)
    inodes = {p: p.stat().st_ino for p in (inputs / "A").iterdir()}
    # hard links to the inputs, then replaced by copies: the inputs keep their bytes and inodes
    assert convert([*SUBCOMMANDS["unpaired"](inputs, out), "--link"], capsys)[0] == 0
    assert (out / "trainA" / "0.png").stat().st_ino == inodes[inputs / "A" / "0.png"]
    assert convert([*SUBCOMMANDS["unpaired"](inputs, out), "--overwrite"], capsys)[0] == 0
    assert digests(inputs) == before and {p: p.stat().st_ino for p in inodes} == inodes
    # a symlink to an input at an output path is not the command's file
    (out / "trainB" / "1.png").unlink()
    (out / "trainB" / "1.png").symlink_to(inputs / "B" / "1.png")
    code, err = convert([*SUBCOMMANDS["unpaired"](inputs, out), "--overwrite"], capsys)
    assert_one_error(code, err, "1.png", "not written by translate convert")
    # an output subfolder that is a link into an input folder
    escape = tmp_path / "escape"
    escape.mkdir()
    (escape / "trainA").symlink_to(inputs / "A", target_is_directory=True)
    code, err = convert([*SUBCOMMANDS["unpaired"](inputs, escape), "--overwrite"], capsys)
    assert_one_error(code, err, "leads outside the output folder")
    assert digests(inputs) == before and sorted(p.name for p in (inputs / "A").iterdir()) == ["0.png", "1.png"]


# --------------------------------------------------------------------------------- options

@pytest.mark.parametrize("args, needle", [
    (["masks", "{out}", "--count", "2", "--size", "100000"], "--size must be <= 8192"),
    (["masks", "{out}", "--count", "1000000000"], "--count must be <= 1000000"),
    (["masks", "{out}", "--count", "0"], "--count must be >= 1"),
    (["masks", "{out}", "--count", "1", "--seed", "-1"], "--seed must be >= 0"),
    (["sr", "{A}", "{out}", "--patch", "8", "--stride", "0"], "--stride must be >= 1"),
    (["sr", "{A}", "{out}", "--stride", "8"], "--stride only applies with --patch"),
    (["sr", "{A}", "{out}", "--scale", "1"], "--scale must be >= 2"),
    (["sr", "{A}", "{out}", "--scale", "2", "--patch", "-4"], "--patch must be >= 1"),
    (["unpaired", "{A}", "{B}", "{out}", "--seed", "-1"], "--seed must be >= 0"),
    (["unpaired", "{A}", "{B}", "{out}", "--test-fraction", "nan"], "--test-fraction must be a finite number"),
    (["rain", "{A}", "{out}", "--density", "nan"], "--density must be a finite number"),
    (["rain", "{A}", "{out}", "--length", "1000000000"], "--length must be <= 1000"),
    (["rain", "{A}", "{out}", "--light-fraction", "2"], "--light-fraction must be <= 1"),
    (["combine", "{A}", "{B}", "{out}", "--quality", "101"], "--quality must be <= 100"),
    (["combine", "{A}", "{B}", "{out}", "--workers", "0"], "--workers must be >= 1"),
])
def test_numeric_options_are_checked_in_one_place(inputs, tmp_path, capsys, args, needle):
    before = digests(inputs)
    paths = {"A": inputs / "A", "B": inputs / "B", "out": tmp_path / "out"}
    code, err = convert([a.format(**paths) for a in args], capsys)
    assert_one_error(code, err, needle)
    assert digests(inputs) == before and not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------- folders

def test_folder_mistakes_are_one_line(inputs, tmp_path, capsys):
    a, b = inputs / "A", inputs / "B"
    (tmp_path / "afile").write_text("x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.png").write_text("not an image")
    cases = [
        (["combine", a, a, tmp_path / "o1"], "are the same folder"),
        (["unpaired", a, f"{a}/", tmp_path / "o2"], "are the same folder"),
        (["unpaired", inputs, a, tmp_path / "o3"], "lies inside"),
        (["combine", a, b, a / "sub"], "refusing to write into input folder"),
        (["combine", a, b, a], "refusing to write into input folder"),
        (["combine", a, b, inputs], "it contains input folder"),
        (["combine", a, b, tmp_path / "afile"], "is a file"),
        (["combine", a, tmp_path / "missing", tmp_path / "o4"], "no such input folder"),
        (["split", tmp_path / "afile", tmp_path / "o5"], "is a file, expected a folder"),
        (["split", tmp_path / "empty", tmp_path / "o6"], "no image files"),
        (["combine", a, b, tmp_path / "afile" / "sub"], "cannot create the output folder"),
        (["check", tmp_path / "missing", "--layout", "aligned"], "no such dataset folder"),
    ]
    before = digests(inputs, tmp_path / "afile")
    for args, needle in cases:
        code, err = convert(args, capsys)
        assert_one_error(code, err, needle)
    assert digests(inputs, tmp_path / "afile") == before
    # a folder of files that are not images: each is skipped with its reason, nothing converted
    code, err = convert(["split", tmp_path / "text", tmp_path / "o7"], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("skipped text/a.png: "), err


# ---------------------------------------------------------------------------- failing writes

def test_a_name_too_long_or_a_file_in_the_way_skips_that_file_only(tmp_path, capsys):
    a = images(tmp_path / "A")
    deep = a / ("d" * 200)
    images(deep, n=1, seed=5)
    os.replace(deep / "0.png", deep / ("n" * 100 + ".png"))  # flattened to d..._n....png: > 255 bytes
    b = images(tmp_path / "B", seed=10)
    code, err = convert(["unpaired", a, b, tmp_path / "out", "--test-fraction", "0"], capsys)
    assert code == 1 and len(err) == 1 and "too long" in err[0] and err[0].startswith("skipped "), err
    assert len(outputs(tmp_path / "out")) == 4

    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "trainA").write_text("a file where the trainA folder belongs")
    code, err = convert(["unpaired", a, b, blocked, "--test-fraction", "0", "--overwrite"], capsys)
    assert code == 1 and len(err) == 3 and all(e.startswith("skipped A/") and "trainA" in e for e in err), err
    assert (blocked / "trainA").read_text() == "a file where the trainA folder belongs"


def test_a_full_disk_stops_the_run_with_one_line(inputs, tmp_path, monkeypatch, capsys):
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    before = digests(inputs)
    code, err = convert(SUBCOMMANDS["combine"](inputs, tmp_path / "out"), capsys)
    assert_one_error(code, err, "No space left on device", "disk is full")
    assert digests(inputs) == before
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()], "no half-written file is left"


# ------------------------------------------------------------------------ lying image headers

def test_lying_headers_are_skipped_and_listed(inputs, tmp_path, capsys):
    for folder in (inputs / "A", inputs / "AB"):
        write_lying_png(folder / "9.png")
    (inputs / "B" / "9.png").write_bytes((inputs / "B" / "0.png").read_bytes())
    before = digests(inputs)
    for args, label in ((SUBCOMMANDS["combine"](inputs, tmp_path / "c"), "A/9.png"),
                        (SUBCOMMANDS["unpaired"](inputs, tmp_path / "u"), "A/9.png"),
                        (SUBCOMMANDS["split"](inputs, tmp_path / "s"), "AB/9.png"),
                        (SUBCOMMANDS["sr"](inputs, tmp_path / "sr"), "A/9.png")):
        code, err = convert(args, capsys)
        assert code == 1, err
        assert len(err) == 1 and err[0].startswith(f"skipped {label}: ") and "pixels" in err[0], err
    assert main(["convert", "check", str(inputs / "AB"), "--layout", "aligned", "--quiet"]) == 1
    report = capsys.readouterr()
    assert report.err == "" and "error: 9.png: its header claims more pixels" in report.out
    assert digests(inputs) == before


def test_a_file_name_with_a_newline_is_reported_on_one_line(tmp_path, capsys):
    a, b = images(tmp_path / "A"), images(tmp_path / "B", seed=10)
    (a / "evil\nname.png").write_text("not an image")
    (b / "evil\nname.png").write_text("not an image")
    code, err = convert(["combine", a, b, tmp_path / "out"], capsys)
    assert code == 1 and len(err) == 1 and err[0].startswith("skipped A/evil\\nname.png: "), err
    assert main(["convert", "check", str(a), "--layout", "aligned", "--quiet"]) == 1
    report = capsys.readouterr().out.splitlines()
    assert any(line.startswith("error: evil\\nname.png: ") for line in report), report
