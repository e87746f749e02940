"""Atomic file writes: every file `translate` writes goes through here.

A file is written to a temporary name in the destination folder, flushed and fsynced, then
renamed over the destination, so a crash or kill never leaves a half-written checkpoint,
weight file or image: readers see the old file or the new one, never a mix. Two promises are
kept here for every writer at once: a write never replaces a file the command reads
(``protect``: inputs, masks, model files; symlinks and hard links are the same file), and an
operating-system failure (read-only or full disk, a file where a folder should be, a name too
long) becomes one :class:`WriteError` line that names the file and what to do.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator

from translate.errors import TranslateError

# mkstemp creates files readable by their owner only; written files get the usual umask instead.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK

TEMP_SUFFIX = ".tmp"
# The temp name is ".<name>.<8 random chars>.tmp": the final name is cut so that the temp name
# stays within the usual 255-byte limit on a file name whenever the final name does.
_TEMP_NAME_BYTES = 230

# Errors that hit every later file of a batch as well: retrying each file is pointless.
_WHOLE_DISK = (errno.ENOSPC, errno.EDQUOT)

_HINTS = {
    errno.ENOSPC: "the disk is full: free some space or write elsewhere",
    errno.EDQUOT: "the disk quota is exceeded: free some space or write elsewhere",
    errno.EROFS: "the file system is read-only: write elsewhere",
    errno.EACCES: "permission denied: write to a folder you may write to",
    errno.EPERM: "permission denied: write to a folder you may write to",
    errno.ENAMETOOLONG: "the file name is too long: choose a shorter name",
    errno.ENOTDIR: "a file stands where a folder is needed on that path: choose another output path",
    errno.EEXIST: "a file stands where a folder is needed on that path: choose another output path",
    errno.EISDIR: "it is a folder: give a file name",
    errno.ENOENT: "its folder cannot be created: choose another output path",
}


class WriteError(TranslateError, OSError):
    """Writing ``path`` failed for an operating-system reason; one line with the reason and a hint.

    Also an :class:`OSError` (``errno``, ``strerror``, ``filename`` kept), so code that handles
    OSError around a write keeps working. A full disk stops a batch (``stop_batch``).
    """

    def __init__(self, path: str | os.PathLike, error: OSError):
        reason = error.strerror or str(error) or type(error).__name__
        hint = _HINTS.get(error.errno or 0, "check the path and try again")
        TranslateError.__init__(self, f"cannot write {path}: {reason}; {hint}",
                                stop_batch=error.errno in _WHOLE_DISK)
        self.errno, self.strerror, self.filename = error.errno, error.strerror, str(path)


def _identity(path: str | os.PathLike) -> tuple[tuple[int, int] | None, str | None]:
    """(st_dev, st_ino) of ``path`` (symlinks followed) when it exists, and its resolved path."""
    try:
        st = os.stat(path)
        inode = (st.st_dev, st.st_ino)
    except (OSError, ValueError):  # ValueError: a NUL byte in a name handed to the Python API
        inode = None
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        real = None
    return inode, real


class FileSet:
    """Files a command reads, to test quickly whether a path is one of them: the same inode
    (hard links, symlinks) or the same resolved path (a file not created yet)."""

    def __init__(self, paths: Iterable[str | os.PathLike | None]):
        self._by_inode: dict[tuple[int, int], str | os.PathLike] = {}
        self._by_path: dict[str, str | os.PathLike] = {}
        for path in paths:
            if path is None:
                continue
            inode, real = _identity(path)
            if inode is not None:
                self._by_inode.setdefault(inode, path)
            if real is not None:
                self._by_path.setdefault(real, path)

    def find(self, path: str | os.PathLike) -> str | os.PathLike | None:
        """The member that ``path`` is the same file as, or None."""
        inode, real = _identity(path)
        if inode is not None and inode in self._by_inode:
            return self._by_inode[inode]
        return self._by_path.get(real) if real is not None else None


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` are one file (see :class:`FileSet`)."""
    return FileSet([b]).find(a) is not None


def check_not_overwriting(target: str | os.PathLike,
                          protected: FileSet | Iterable[str | os.PathLike | None]) -> None:
    """Refuse (:class:`TranslateError`) to write ``target`` when it is one of the ``protected``
    files (what the command reads: inputs, masks, model files; None entries are skipped). Pass a
    :class:`FileSet` when checking many targets against many files."""
    source = (protected if isinstance(protected, FileSet) else FileSet(protected)).find(target)
    if source is not None:
        shown = "" if os.path.abspath(source) == os.path.abspath(target) else f" ({source})"
        raise TranslateError(f"output {target} would overwrite an input of this command{shown}; "
                             f"choose another output path")


def check_can_create(path: str | os.PathLike) -> None:
    """Raise :class:`WriteError` early when ``path`` clearly cannot be written: a name on it is
    too long, a file stands where one of its folders should be, or the nearest existing folder
    is not writable (read-only file system, permissions). A cheap check before long work; the
    write itself still reports whatever else goes wrong."""
    path = Path(os.path.abspath(path))
    existing = path.parent
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    try:
        name_max = os.pathconf(existing if existing.is_dir() else existing.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    problem = None
    if any(len(os.fsencode(part)) > name_max for part in path.parts):
        problem = errno.ENAMETOOLONG
    elif not existing.is_dir():
        problem = errno.ENOTDIR
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = errno.EROFS if _read_only(existing) else errno.EACCES
    if problem is not None:
        raise WriteError(path, OSError(problem, os.strerror(problem), str(path)))


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def _temp_prefix(name: str) -> str:
    while len(os.fsencode(name)) > _TEMP_NAME_BYTES:
        name = name[:-1]
    return f".{name}."


_TEMP_NAME = re.compile(rf"^\.(.+)\.[A-Za-z0-9_]+{re.escape(TEMP_SUFFIX)}$")


def temp_name_pattern() -> re.Pattern[str]:
    """The names :func:`atomic_writer` gives its temp files (``.<name>.<random>.tmp``); only such
    files are ever cleaned up after a kill."""
    return _TEMP_NAME


def temp_file_owner(name: str) -> str | None:
    """For a temp-file name of :func:`atomic_writer`, the (possibly cut) name of the file it was
    written for, as :func:`temp_owner_key` gives it; None for any other name."""
    match = _TEMP_NAME.match(name)
    return match.group(1) if match else None


def temp_owner_key(target: str | os.PathLike) -> str:
    """What :func:`temp_file_owner` returns for the temp files of ``target`` (its folder aside)."""
    return _temp_prefix(Path(target).name)[1:-1]


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "wb", *,
                  protect: FileSet | Iterable[str | os.PathLike | None] = ()) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync it and rename it to ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched. Parent
    folders are created. ``mode`` is ``"wb"`` or ``"w"`` (text, UTF-8). ``path`` may not be
    one of the ``protect`` files (:func:`check_not_overwriting`); an OSError while writing
    becomes a :class:`WriteError`.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_writer mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    check_not_overwriting(path, protect)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path.name), suffix=TEMP_SUFFIX, dir=path.parent)
    except OSError as e:
        raise WriteError(path, e) from None
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, WriteError):
            raise WriteError(path, e) from None
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *,
                       protect: Iterable[str | os.PathLike | None] = ()) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path, "wb", protect=protect) as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str, *,
                      protect: Iterable[str | os.PathLike | None] = ()) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path, "w", protect=protect) as f:
        f.write(text)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not supported on every platform (e.g. Windows).
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
