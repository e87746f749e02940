"""translate.data.archives: safe unpacking of data set archives (tar.gz / zip) built here, including
hostile ones (path traversal, links, too many files, too many bytes, damaged streams)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from translate.data.archives import unpack
from translate.errors import TranslateError


def _tar(path: Path, members: dict[str, bytes], *, mode: str = "w:gz", extra=()) -> Path:
    """A tar archive of ``members`` (name -> bytes); ``extra``: more TarInfo objects (links ...)."""
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return path


def _zip(path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


SET = {"facades/train/1.jpg": b"a" * 1000, "facades/train/2.jpg": b"b" * 10, "facades/val/3.jpg": b"c" * 7,
       "facades/test/4.jpg": os.urandom(5000)}


@pytest.mark.parametrize("kind", ["tar.gz", "tar", "zip"])
def test_a_set_unpacks_without_its_top_folder(tmp_path, kind):
    archive = tmp_path / f"set.{kind}"
    if kind == "zip":
        _zip(archive, SET)
    else:
        _tar(archive, SET, mode="w:gz" if kind == "tar.gz" else "w")
    before = archive.read_bytes()
    result = unpack(archive, tmp_path / "out")
    assert _tree(tmp_path / "out") == {k.removeprefix("facades/"): v for k, v in SET.items()}
    assert (result.files, result.bytes) == (4, sum(map(len, SET.values())))
    assert archive.read_bytes() == before  # the archive is only read
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([archive.name, "out"])  # no staging folder left


def test_members_without_a_shared_top_folder_keep_their_paths(tmp_path):
    members = {"trainA/1.png": b"1", "trainB/2.png": b"2"}
    unpack(_zip(tmp_path / "set.zip", members), tmp_path / "out")
    assert _tree(tmp_path / "out") == members


def _refused(tmp_path: Path, archive: Path, *words: str, **limits) -> str:
    target = tmp_path / "target"
    with pytest.raises(TranslateError) as e:
        unpack(archive, target, **limits)
    message = str(e.value)
    assert "\n" not in message and str(archive) in message
    for word in words:
        assert word in message, message
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".target.")]  # no staging folder left
    return message


@pytest.mark.parametrize("name", ["facades/../../escaped.txt", "../escaped.txt", "/tmp/escaped_abs.txt",
                                  "facades/..\\..\\escaped.txt"])
def test_a_member_leaving_the_target_is_refused_before_anything_is_written(tmp_path, name):
    archive = _tar(tmp_path / "evil.tar.gz", {"facades/train/1.jpg": b"ok", name: b"owned"})
    _refused(tmp_path, archive, "outside the target folder", repr(name))
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/escaped_abs.txt").exists()


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_tar_with_a_link_is_refused(tmp_path, link):
    info = tarfile.TarInfo("facades/train/passwd.jpg")
    info.type = tarfile.SYMTYPE if link == "symlink" else tarfile.LNKTYPE
    info.linkname = "/etc/passwd" if link == "symlink" else "facades/train/1.jpg"
    archive = _tar(tmp_path / "evil.tar.gz", {"facades/train/1.jpg": b"ok"}, extra=[info])
    _refused(tmp_path, archive, "link", "facades/train/passwd.jpg")


def test_a_zip_with_a_symlink_is_refused(tmp_path):
    archive = _zip(tmp_path / "evil.zip", {"h2z/trainA/1.jpg": b"ok"}, symlinks={"h2z/trainA/x.jpg": "/etc/passwd"})
    _refused(tmp_path, archive, "symbolic link", "h2z/trainA/x.jpg")


def test_a_tar_with_a_device_is_refused(tmp_path):
    info = tarfile.TarInfo("facades/train/null")
    info.type = tarfile.CHRTYPE
    archive = _tar(tmp_path / "evil.tar", {"facades/train/1.jpg": b"ok"}, mode="w", extra=[info])
    _refused(tmp_path, archive, "device")


def test_too_many_files_or_bytes_are_refused_before_unpacking(tmp_path):
    members = {f"set/train/{i}.jpg": b"x" * 100 for i in range(5)}
    archive = _tar(tmp_path / "many.tar.gz", members)
    _refused(tmp_path, archive, "more than 4 files", max_files=4)
    _refused(tmp_path, archive, "unpacks to more than", max_bytes=499)
    assert unpack(archive, tmp_path / "target", max_files=5, max_bytes=500).files == 5


def test_a_gzip_bomb_is_refused_from_its_headers(tmp_path):
    """A member that claims far more bytes than allowed is refused before any data is written."""
    big = tmp_path / "bomb.tar.gz"
    with tarfile.open(big, "w:gz") as tar:
        info = tarfile.TarInfo("set/train/zeros.bin")
        info.size = 50_000_000
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    assert big.stat().st_size < 1_000_000
    _refused(tmp_path, big, "unpacks to more than", max_bytes=10_000_000)


@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_a_damaged_download_is_a_one_line_error(tmp_path, damage):
    good = _tar(tmp_path / "good.tar.gz", {f"set/train/{i}.bin": os.urandom(20_000) for i in range(3)})
    data = bytearray(good.read_bytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(bytes(data))
    _refused(tmp_path, bad, "damaged", "download it again")


def test_a_zip_member_with_a_wrong_crc_is_a_one_line_error(tmp_path):
    archive = _zip(tmp_path / "set.zip", {"set/trainA/1.bin": b"A" * 5000})
    data = archive.read_bytes()
    stored = zipfile.ZipFile(archive).getinfo("set/trainA/1.bin")
    offset = stored.header_offset + 30 + len(stored.filename) + 3  # inside the compressed data
    archive.write_bytes(data[:offset] + bytes([data[offset] ^ 0x55]) + data[offset + 1:])
    _refused(tmp_path, archive, "damaged")


def test_not_an_archive_and_an_occupied_target(tmp_path):
    text = tmp_path / "page.html"
    text.write_text("<html>404</html>")
    _refused(tmp_path, text, "not a tar / zip archive")
    archive = _zip(tmp_path / "set.zip", {"a/trainA/1.jpg": b"1"})
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "mine.txt").write_text("keep")
    with pytest.raises(TranslateError, match="not an empty folder"):
        unpack(archive, tmp_path / "target")
    assert _tree(tmp_path / "target") == {"mine.txt": b"keep"}
    (tmp_path / "target" / "mine.txt").unlink()
    unpack(archive, tmp_path / "target")  # an empty folder is filled
    assert _tree(tmp_path / "target") == {"trainA/1.jpg": b"1"}


def test_the_data_modules_do_not_import_torch():
    code = ("import sys, translate.commands.data, translate.data.archives, translate.data.public_sets; "
            "print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
