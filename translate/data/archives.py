"""Unpacking downloaded data set archives (.tar.gz / .tar / .zip) safely. No torch.

An archive is read twice. The first pass reads every member's header (and, for a compressed tar,
the whole stream, so that gzip's CRC-32 and length are checked) and refuses, before anything is
written: a member whose name is absolute or climbs out with ``..``; any link, device or FIFO
(the public sets hold plain files and folders only); more than ``max_files`` files or more than
``max_bytes`` in total; more than the free space of the target's disk. The second pass writes the
files into a hidden staging folder beside the target (a zip member's CRC-32 is checked as it is
read) and renames that folder into place, so the target is either the whole data set or absent.
A single top folder shared by every member (``facades/train/1.jpg``) is dropped: the target folder
holds ``train/`` itself.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from translate.errors import TranslateError

#: Default bounds: above the largest public set (edges2handbags: about 138,600 files, under 10 GB
#: unpacked) with room to spare, far below what a hostile archive could ask for.
MAX_FILES = 500_000
MAX_BYTES = 32 * 1024**3
_CHUNK = 1 << 20
_DAMAGED = (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, lzma.LZMAError, EOFError, zlib.error,
            OSError, ValueError)


@dataclass(frozen=True)
class Member:
    """One file or folder of an archive: ``name`` as the archive spells it, ``parts`` its path below
    the target folder (the shared top folder already dropped), ``size`` in bytes (0 for a folder)."""

    name: str
    parts: tuple[str, ...]
    size: int
    is_dir: bool


@dataclass(frozen=True)
class Unpacked:
    """What :func:`unpack` wrote: the target folder, its file count and their bytes."""

    folder: Path
    files: int
    bytes: int


def unpack(archive: str | os.PathLike, target: str | os.PathLike, *, max_files: int = MAX_FILES,
           max_bytes: int = MAX_BYTES) -> Unpacked:
    """Unpack ``archive`` (tar, tar.gz / .bz2 / .xz or zip, told by content) into the folder ``target``.

    ``target`` must not exist, or be an empty folder. Every check of the module docstring runs
    before the first file is written; a refused or damaged archive raises :class:`TranslateError`
    (one line: what, which archive, what to do) and leaves ``target`` as it was. The archive itself
    is only read.
    """
    archive, target = Path(archive), Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise TranslateError(f"{target} already exists and is not an empty folder; choose another target or remove it")
    plan = _checked_members(archive, max_files, max_bytes)
    members = [m for m in plan if m is not None]
    total = sum(m.size for m in members)
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if total > free:
        raise TranslateError(f"{archive.name} unpacks to {_gb(total)} but {target.parent} has {_gb(free)} free; "
                             f"free some space or choose another folder")
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    try:
        with _open(archive) as (kind, handle):
            entries = _entries(kind, handle)
            for member, (name, _, _, entry) in zip(plan, entries):
                if member is None:
                    continue
                if name != member.name:  # the file changed between the two passes
                    raise TranslateError(f"{archive} changed while it was unpacked; run the command again")
                path = staging.joinpath(*member.parts)
                if member.is_dir:
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                with _member_stream(kind, handle, entry) as src, open(path, "wb") as dst:
                    written = _copy(src, dst, member.size)
                if written != member.size:
                    raise TranslateError(f"{archive}: {name} holds {written} bytes, its header says {member.size}; "
                                         f"the archive is damaged: delete it and download it again")
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except _DAMAGED as e:
        raise TranslateError(f"{archive} is damaged ({_what(e)}); delete it and download it again") from e
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Unpacked(target, sum(not m.is_dir for m in members), total)


def _checked_members(archive: Path, max_files: int, max_bytes: int) -> list[Member | None]:
    """Each entry of ``archive`` in archive order, checked (module docstring): its :class:`Member`
    (the shared top folder dropped), or None for an entry that is only that top folder or ``.``."""
    entries: list[tuple[str, int, bool]] = []
    files = total = 0
    try:
        with _open(archive) as (kind, handle):
            for name, size, kind_of_entry, _ in _entries(kind, handle):
                if kind_of_entry not in ("file", "dir"):
                    raise TranslateError(f"{archive} holds a {kind_of_entry} ({name}); data set archives hold plain "
                                         f"files only, so it is refused: get the data set from its official source")
                _check_name(archive, name)
                if kind_of_entry == "file":
                    files += 1
                    total += size
                if files > max_files:
                    raise TranslateError(f"{archive} holds more than {max_files} files; refused (a data set this large "
                                         f"is not one of the public sets): check the archive's source")
                if total > max_bytes:
                    raise TranslateError(f"{archive} unpacks to more than {_gb(max_bytes)}; refused (a data set this "
                                         f"large is not one of the public sets): check the archive's source")
                entries.append((name, size, kind_of_entry == "dir"))
            if kind == "tar":
                _read_to_end(handle)
    except TranslateError:
        raise
    except _DAMAGED as e:
        raise TranslateError(f"{archive} is damaged or not a tar / zip archive ({_what(e)}); "
                             f"delete it and download it again") from e
    parts = [tuple(p for p in PurePosixPath(name).parts if p != ".") for name, _, _ in entries]
    if files == 0:
        raise TranslateError(f"{archive} holds no files; delete it and download it again")
    tops = {p[0] for p in parts if p}
    shared_top = len(tops) == 1 and all(len(p) > 1 or is_dir for p, (_, _, is_dir) in zip(parts, entries) if p)
    plan: list[Member | None] = []
    for p, (name, size, is_dir) in zip(parts, entries):
        rest = p[1:] if shared_top else p
        plan.append(Member(name, rest, 0 if is_dir else size, is_dir) if rest else None)
    return plan


def _check_name(archive: Path, name: str) -> None:
    path = PurePosixPath(name)
    if (not name or name.startswith(("/", "\\")) or "\\" in name or ".." in path.parts
            or (len(name) > 1 and name[1] == ":") or "\x00" in name):
        raise TranslateError(f"{archive} holds a member named {name!r} that would be written outside the target "
                             f"folder; refused: get the data set from its official source")


@contextlib.contextmanager
def _open(archive: Path) -> Iterator[tuple[str, object]]:
    """``("zip", ZipFile)`` or ``("tar", (TarFile, raw stream))``, told by the content, not the name."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            yield "zip", zf
        return
    with open(archive, "rb") as raw:
        magic = raw.read(6)
        raw.seek(0)
        if magic[:2] == b"\x1f\x8b":
            stream: IO[bytes] = gzip.GzipFile(fileobj=raw)
        elif magic[:3] == b"BZh":
            stream = bz2.BZ2File(raw)
        elif magic == b"\xfd7zXZ\x00":
            stream = lzma.LZMAFile(raw)
        else:
            stream = raw
        with stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            yield "tar", (tar, stream)


def _entries(kind: str, handle) -> Iterator[tuple[str, int, str, object]]:
    """``(name, size, "file" | "dir" | what else it is, entry)`` for each member, in archive order."""
    if kind == "zip":
        for info in handle.infolist():
            file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 where the zip tool records no Unix type
            if file_type == stat.S_IFLNK:
                what = "symbolic link"
            elif info.is_dir():
                what = "dir"
            elif file_type not in (0, stat.S_IFREG):
                what = "special file"
            else:
                what = "file"
            yield info.filename, info.file_size, what, info
        return
    tar, _ = handle
    for info in tar:
        if info.isreg():
            what = "file"
        elif info.isdir():
            what = "dir"
        elif info.issym():
            what = "symbolic link"
        elif info.islnk():
            what = "hard link"
        else:
            what = "device or FIFO"
        yield info.name, info.size, what, info


@contextlib.contextmanager
def _member_stream(kind: str, handle, entry) -> Iterator[IO[bytes]]:
    """The bytes of the entry just read by :func:`_entries` (a streamed tar reads forward only)."""
    if kind == "zip":
        with handle.open(entry) as src:  # ZipExtFile: reads at most file_size bytes, checks the CRC-32
            yield src
        return
    tar, _ = handle
    src = tar.extractfile(entry)
    if src is None:
        raise tarfile.ReadError(f"member {entry.name} has no data")
    with src:
        yield src


def _copy(src: IO[bytes], dst: IO[bytes], limit: int) -> int:
    written = 0
    while chunk := src.read(min(_CHUNK, limit + 1 - written)):
        dst.write(chunk)
        written += len(chunk)
        if written > limit:
            break
    return written


def _read_to_end(handle) -> None:
    # Past the tar's end marker to the end of the compressed stream: gzip checks its CRC-32 and
    # length there, and a truncated download fails here rather than in the middle of unpacking.
    _, stream = handle
    while stream.read(_CHUNK):
        pass


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def _what(e: BaseException) -> str:
    return str(e) or type(e).__name__
