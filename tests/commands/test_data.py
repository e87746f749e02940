"""`translate data get / list` against a local HTTP server (``$TRANSLATE_DATA_MIRROR``) serving tiny
pix2pix / CycleGAN archives built here: download, resume after a cut connection, checksums, the
offline message, hostile archives, and `translate train` reading what was unpacked."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import re
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from translate.cli import main
from translate.data import public_sets

TINY_PIX2PIX = ["--netG", "unet_32", "--ngf", "4", "--ndf", "4", "--load-size", "32", "--crop-size", "32",
                "--workers", "0", "--device", "cpu", "--max-iters", "1"]
TINY_CYCLEGAN = ["--netG", "resnet_2blocks", "--ngf", "4", "--ndf", "4", "--load-size", "36", "--crop-size", "32",
                 "--workers", "0", "--device", "cpu", "--max-iters", "1", "--pool-size", "2"]


def _jpeg(seed: int, width: int, height: int) -> bytes:
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def _pix2pix_tar(top: str = "facades") -> bytes:
    """A tiny pix2pix set as the authors pack it: ``facades/{train,val,test}/N.jpg``, A|B side by side."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for split, count in (("train", 3), ("val", 1), ("test", 2)):
            for i in range(count):
                data = _jpeg(hash((split, i)) % 1000, 64, 32)
                info = tarfile.TarInfo(f"{top}/{split}/{i + 1}.jpg")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _cyclegan_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("horse2zebra/", b"")
        for folder, count in (("trainA", 2), ("trainB", 3), ("testA", 1), ("testB", 1)):
            for i in range(count):
                zf.writestr(f"horse2zebra/{folder}/n{i}.jpg", _jpeg(i + len(folder), 40, 40))
    return buffer.getvalue()


class _Mirror:
    """A threading HTTP server on 127.0.0.1 serving ``files`` (path -> bytes) with Range support;
    ``cut_after``: path -> the byte count after which the next full response hangs up once."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.cut_after: dict[str, int] = {}
        self.requests: list[tuple[str, str | None]] = []
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - BaseHTTPRequestHandler's name
                mirror.requests.append((self.path, self.headers.get("Range")))
                data = mirror.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match:
                    start = int(match.group(1))
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                cut = mirror.cut_after.pop(self.path, None)
                self.wfile.write(data[start:cut] if cut is not None else data[start:])
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, format, *args):  # noqa: A002
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def stop(self):
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join()


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSLATE_HOME", str(tmp_path / "home"))
    server = _Mirror()
    monkeypatch.setenv(public_sets.MIRROR_ENV, server.url)
    yield server
    server.stop()


def _translate(argv: list, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _downloads(tmp_path: Path) -> list[str]:
    folder = tmp_path / "home" / "datasets" / "downloads"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.slow
def test_get_a_pix2pix_set_then_train_on_it(tmp_path, mirror, capsys):
    archive = _pix2pix_tar()
    mirror.files["/pix2pix/datasets/facades.tar.gz"] = archive
    target = tmp_path / "datasets" / "facades"
    code, out, err = _translate(["data", "get", "pix2pix/facades", "--to", target, "--no-progress"], capsys)
    assert code == 0, err
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*.jpg")) == [
        "test/1.jpg", "test/2.jpg", "train/1.jpg", "train/2.jpg", "train/3.jpg", "val/1.jpg"]
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        assert (target / "train" / "2.jpg").read_bytes() == tar.extractfile("facades/train/2.jpg").read()
    digest = hashlib.sha256(archive).hexdigest()
    assert f"--sha256 {digest}" in out and "train/ 3" in out
    assert f"translate train pix2pix --data {target} " in out and "--direction BtoA" in out
    assert _downloads(tmp_path) == []  # the archive is deleted after unpacking

    # Asked again: already there, no request.
    mirror.stop()
    code, out, _ = _translate(["data", "get", "pix2pix/facades", "--to", target], capsys)
    assert code == 0 and "already in" in out

    code, _, err = _translate(["train", "pix2pix", "--data", target, "--out", tmp_path / "run", *TINY_PIX2PIX], capsys)
    assert code == 0, err
    assert (tmp_path / "run" / "checkpoints" / "latest.pt").is_file()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["data"] == str(target)


@pytest.mark.slow
def test_get_a_cyclegan_set_into_the_cache_then_train_on_it(tmp_path, mirror, capsys):
    mirror.files["/cyclegan/datasets/horse2zebra.zip"] = _cyclegan_zip()
    code, out, err = _translate(["data", "get", "horse2zebra", "--no-progress", "--keep-archive"], capsys)
    assert code == 0, err
    folder = tmp_path / "home" / "datasets" / "cyclegan" / "horse2zebra"
    assert {p.name: len(list(p.iterdir())) for p in folder.iterdir()} == {"trainA": 2, "trainB": 3, "testA": 1,
                                                                        "testB": 1}
    assert _downloads(tmp_path) == ["cyclegan-horse2zebra.zip", "cyclegan-horse2zebra.zip.sha256"]
    code, out, _ = _translate(["data", "list"], capsys)
    assert re.search(r"cyclegan/horse2zebra\s+unaligned\s+cyclegan\s+yes", out)
    assert re.search(r"pix2pix/facades\s+aligned\s+pix2pix\s+no", out)
    code, _, err = _translate(["train", "cyclegan", "--data", folder, "--out", tmp_path / "run", *TINY_CYCLEGAN],
                              capsys)
    assert code == 0, err
    assert (tmp_path / "run" / "checkpoints" / "latest.pt").is_file()


def test_a_cut_connection_resumes_where_it_stopped(tmp_path, mirror, capsys):
    archive = _pix2pix_tar("maps")
    mirror.files["/pix2pix/datasets/maps.tar.gz"] = archive
    mirror.cut_after["/pix2pix/datasets/maps.tar.gz"] = len(archive) // 3
    target = tmp_path / "maps"
    code, out, err = _translate(["data", "get", "pix2pix/maps", "--to", target, "--no-progress"], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert f"{len(archive) // 3} bytes are kept" in err and "run the command again to resume" in err
    assert _downloads(tmp_path) == ["pix2pix-maps.tar.gz.part"] and not target.exists()

    code, out, err = _translate(["data", "get", "pix2pix/maps", "--to", target, "--no-progress"], capsys)
    assert code == 0, err
    assert mirror.requests[-1] == ("/pix2pix/datasets/maps.tar.gz", f"bytes={len(archive) // 3}-")
    assert f"--sha256 {hashlib.sha256(archive).hexdigest()}" in out  # the whole file, stitched together
    assert len(list(target.rglob("*.jpg"))) == 6 and _downloads(tmp_path) == []


def test_a_checksum_mismatch_removes_the_download(tmp_path, mirror, capsys):
    archive = _pix2pix_tar("night2day")
    mirror.files["/pix2pix/datasets/night2day.tar.gz"] = archive
    target = tmp_path / "n2d"
    code, _, err = _translate(["data", "get", "night2day", "--to", target, "--sha256", "0" * 64, "--no-progress"],
                              capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "checksum mismatch" in err and hashlib.sha256(archive).hexdigest() in err
    assert _downloads(tmp_path) == [] and not target.exists()
    right = hashlib.sha256(archive).hexdigest()
    code, out, err = _translate(["data", "get", "night2day", "--to", target, "--sha256", right, "--no-progress"],
                                capsys)
    assert code == 0 and f"matches the expected SHA-256 {right}" in out


def test_offline_says_where_to_put_the_archive_and_then_uses_it(tmp_path, mirror, monkeypatch, capsys):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/"
    monkeypatch.setenv(public_sets.MIRROR_ENV, closed)
    target = tmp_path / "shoes"
    code, _, err = _translate(["data", "get", "edges2shoes", "--to", target, "--no-progress"], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1
    place = tmp_path / "home" / "datasets" / "downloads" / "pix2pix-edges2shoes.tar.gz"
    assert f"{closed}pix2pix/datasets/edges2shoes.tar.gz" in err and f"place the file by hand at {place}" in err
    assert not target.exists()
    place.write_bytes(_pix2pix_tar("edges2shoes"))  # fetched elsewhere, copied in by hand
    code, out, err = _translate(["data", "get", "edges2shoes", "--to", target, "--no-progress"], capsys)
    assert code == 0, err
    assert "found in the cache" in out and len(list(target.rglob("*.jpg"))) == 6


def _hostile_tar(kind: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        ok = _jpeg(0, 64, 32)
        info = tarfile.TarInfo("edges2handbags/train/1.jpg")
        info.size = len(ok)
        tar.addfile(info, io.BytesIO(ok))
        if kind == "traversal":
            info = tarfile.TarInfo("edges2handbags/../../../escaped.jpg")
            info.size = 2
            tar.addfile(info, io.BytesIO(b"no"))
        else:
            info = tarfile.TarInfo("edges2handbags/train/2.jpg")
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc/passwd"
            tar.addfile(info)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["traversal", "symlink"])
def test_a_hostile_archive_is_refused_with_one_line(tmp_path, mirror, capsys, kind):
    mirror.files["/pix2pix/datasets/edges2handbags.tar.gz"] = _hostile_tar(kind)
    target = tmp_path / "deep" / "er" / "bags"
    code, _, err = _translate(["data", "get", "edges2handbags", "--to", target, "--no-progress"], capsys)
    assert code != 0 and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("translate: error:")]) == 1
    assert ("outside the target folder" if kind == "traversal" else "symbolic link") in err
    assert not target.exists() and not (tmp_path / "escaped.jpg").exists() and not (tmp_path / "deep" / "escaped.jpg").exists()


def test_names_and_what_cannot_be_downloaded(mirror, capsys):
    code, _, err = _translate(["data", "get", "facades"], capsys)
    assert code != 0 and "pix2pix/facades and cyclegan/facades" in err
    code, _, err = _translate(["data", "get", "pix2pix/cityscapes"], capsys)
    assert code != 0 and "cityscapes-dataset.com" in err and not mirror.requests
    code, _, err = _translate(["data", "get", "hors2zebra"], capsys)
    assert code != 0 and "did you mean" in err and "horse2zebra" in err


def test_a_kept_part_the_server_cannot_continue_starts_over(tmp_path, mirror, capsys):
    """A ``.part`` longer than the file on the server (it changed there) gets HTTP 416: start again."""
    archive = _pix2pix_tar("facades")
    mirror.files["/pix2pix/datasets/facades.tar.gz"] = archive
    part = tmp_path / "home" / "datasets" / "downloads" / "pix2pix-facades.tar.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * (len(archive) + 10))
    code, out, err = _translate(["data", "get", "pix2pix/facades", "--to", tmp_path / "f", "--no-progress"], capsys)
    assert code == 0, err
    assert [r for _, r in mirror.requests] == [f"bytes={len(archive) + 10}-", None]
    assert f"--sha256 {hashlib.sha256(archive).hexdigest()}" in out and not part.exists()
