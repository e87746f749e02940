"""How every conversion writes and reports: :class:`ConvertOptions` (format, quality, workers,
``overwrite`` / ``resume``), :class:`ConvertReport` (counts, skipped inputs, exit code), the record
of the files conversions wrote into an output folder (``OUT/.translate-convert.json``,
:class:`_Record`), the writer that keeps to it (:class:`_Outputs`: atomic writes, ``resume``
keeping the outputs the record lists unchanged, an existing file replaced only when the record owns it), which write
errors skip one input and which stop the run, and the range check of every numeric option
(:func:`_check_numbers`). Torch-free: numpy, OpenCV and the ground floor only.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from translate.errors import check_number
from translate.errors import TranslateError
from translate.fileio import atomic_write_bytes, atomic_write_text
from translate.imageio import IMAGE_EXTENSIONS, encode_image

_JPEG = (".jpg", ".jpeg")

#: The range of every numeric option of the conversions (bounds of :func:`translate.errors.check_number`;
#: an empty dict: any finite number). Upper bounds keep a typo from allocating gigabytes.
_RANGES: dict[str, dict[str, float]] = {
    "quality": {"low": 0, "high": 100}, "workers": {"low": 1, "high": 256}, "seed": {"low": 0, "high": 2**32 - 1},
    "test_fraction": {"low": 0, "below": 1}, "scale": {"low": 2, "high": 16}, "patch": {"low": 1, "high": 16384},
    "stride": {"low": 1, "high": 16384}, "light_fraction": {"low": 0, "high": 1}, "count": {"low": 1, "high": 10**6},
    "size": {"low": 4, "high": 8192}, "density": {}, "angle": {}, "length": {"high": 1000}, "width": {"high": 100},
    "intensity": {}, "veil": {},
}
#: Write errors that concern one output file only (its name, or a file where its folder should
#: be): the input is skipped and the rest goes on. Any other (full or read-only disk) stops.
_PER_FILE_ERRNOS = (errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR, errno.EEXIST)


def _check_numbers(**values: float | None) -> None:
    """Raise a one-line TranslateError for the first of ``values`` (option name -> value, None
    skipped) outside its :data:`_RANGES` entry."""
    for name, value in values.items():
        if value is None:
            continue
        try:
            check_number(value, **_RANGES[name])
        except ValueError as e:
            raise TranslateError(f"--{name.replace('_', '-')} {e}, got {value}") from None


# --------------------------------------------------------------------------------------------
# Options and results


@dataclass(frozen=True)
class ConvertOptions:
    """How outputs are written, shared by every conversion.

    ``ext``: output format (``".png"``, ``"jpg"`` ...); None = ``.jpg`` for JPEG sources and
    ``.png`` for everything else (lossless stays lossless). ``quality``: JPEG quality.
    ``workers``: threads (OpenCV releases the GIL); None = up to 8, one per CPU.
    ``overwrite`` / ``resume``: see :mod:`translate.data.convert`. ``progress``: show a tqdm bar.
    """

    ext: str | None = None
    quality: int = 95
    workers: int | None = None
    overwrite: bool = False
    resume: bool = False
    progress: bool = True

    def __post_init__(self):
        if self.overwrite and self.resume:
            raise TranslateError("--overwrite and --resume exclude each other; pick one")
        if self.ext is not None:
            ext = self.ext.lower() if self.ext.startswith(".") else "." + self.ext.lower()
            if ext not in IMAGE_EXTENSIONS:
                raise TranslateError(f"cannot write '{self.ext}' images; use one of {', '.join(IMAGE_EXTENSIONS)}")
            object.__setattr__(self, "ext", ext)
        _check_numbers(quality=self.quality, workers=self.workers)

    def suffix_for(self, sources: Iterable[Path]) -> str:
        """Output suffix for an output made from ``sources``: jpg only if they all are."""
        if self.ext:
            return self.ext
        return ".jpg" if all(p.suffix.lower() in _JPEG for p in sources) else ".png"

    @property
    def threads(self) -> int:
        return self.workers or max(1, min(8, os.cpu_count() or 1))


@dataclass
class ConvertReport:
    """Outcome of one conversion: counts per input (or pair), files written, skipped inputs."""

    action: str
    output: Path
    converted: int = 0
    already_done: int = 0
    files_written: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0: all converted; 1: some inputs skipped; 2: nothing could be converted."""
        if not self.skipped:
            return 0
        return 2 if self.converted + self.already_done == 0 else 1

    def summary(self) -> str:
        rate = (self.converted / self.seconds) if self.seconds > 0 else 0.0
        done = f", {self.already_done} already done" if self.already_done else ""
        return (f"convert {self.action}: {self.converted} converted{done}, {len(self.skipped)} skipped; "
                f"{self.files_written} files written to {self.output} in {self.seconds:.1f} s "
                f"({rate:.1f} inputs/s)")



class _OutputError(TranslateError):
    """Writing an output failed (disk full, permissions): stops the run instead of skipping."""


class _Record:
    """The files conversions wrote into one output folder, kept in ``OUT/.translate-convert.json``:
    relative path -> size and SHA-256 of the bytes written.

    :meth:`claim` refuses to replace an existing file unless it is listed here unchanged, so
    ``--overwrite`` / ``--resume`` only ever replace the command's own files, never one the user
    put there or edited since. The record is rewritten atomically every few seconds and at the
    end (a kill -9 can only leave the last files unlisted: then they are refused, never lost).
    """

    NAME = ".translate-convert.json"
    FORMAT = "translate-convert-record"
    FLUSH_SECONDS = 2.0

    def __init__(self, out: Path):
        self.out = out
        self.path = out / self.NAME
        self.files: dict[str, dict[str, object]] = self._load()
        self._lock = threading.Lock()
        self._dirty = False
        self._flushed = time.monotonic()

    def _load(self) -> dict[str, dict[str, object]]:
        if not os.path.lexists(self.path):
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            files = data["files"] if data.get("format") == self.FORMAT else None
        except (OSError, UnicodeDecodeError, ValueError, AttributeError, KeyError, TypeError):
            files = None
        if not isinstance(files, dict) or self.path.is_symlink():
            raise TranslateError(f"{self.path}: not the record of files translate convert writes there; move it "
                                 f"away or choose another output folder")
        return {k: v for k, v in files.items() if isinstance(v, dict)}

    def claim(self, path: Path) -> None:
        """Raise (stopping the run) if ``path`` exists and is not a file this record lists, unchanged
        or damaged (no longer decoding: nothing of the user's can be lost by replacing it)."""
        if not os.path.lexists(path):
            return
        listed = path.relative_to(self.out).as_posix() in self.files
        if not (self.unchanged(path) or (listed and not path.is_symlink() and path.is_file() and not _decodes(path))):
            raise _OutputError(f"{path} was not written by translate convert (or was changed since); it is left "
                               f"alone: move it away or choose another output folder")

    def unchanged(self, path: Path) -> bool:
        """Whether ``path`` is a regular file this record lists with its current size and SHA-256."""
        entry = self.files.get(path.relative_to(self.out).as_posix())
        return (entry is not None and not path.is_symlink() and path.is_file()
                and path.stat().st_size == entry.get("size") and _sha256_file(path) == entry.get("sha256"))

    def add(self, path: Path, data: bytes) -> None:
        """List ``path`` as written with ``data``."""
        with self._lock:
            self.files[path.relative_to(self.out).as_posix()] = {"size": len(data),
                                                                  "sha256": hashlib.sha256(data).hexdigest()}
            self._dirty = True
            if time.monotonic() - self._flushed > self.FLUSH_SECONDS:
                self._flush_locked()

    def flush(self) -> None:
        """Write the record (atomically) if anything was added since the last write."""
        with self._lock:
            self._flush_locked()

    def _flush_locked(self) -> None:
        if self._dirty:
            text = json.dumps({"format": self.FORMAT, "version": 1, "files": dict(sorted(self.files.items()))})
            atomic_write_text(self.path, text + "\n")
            self._dirty = False
        self._flushed = time.monotonic()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_failure(path: Path, e: OSError, hint: str = "") -> TranslateError:
    """The error for a failed write: a per-file problem skips the input, anything else stops."""
    message = str(e) if isinstance(e, TranslateError) else f"cannot write {path}: {e.strerror or e}"
    return (TranslateError if e.errno in _PER_FILE_ERRNOS else _OutputError)(message + hint)


class _Outputs:
    """Writes one task's files atomically into the recorded output folder; with ``resume`` keeps
    existing files that decode. An existing file is replaced only when ``record`` owns it."""

    def __init__(self, options: ConvertOptions, record: _Record):
        self.options = options
        self.record = record
        self.written = 0
        self.kept = 0

    def done(self, paths: Iterable[Path]) -> bool:
        """With ``resume``: True (all kept) when every one of ``paths`` is listed in the record
        unchanged. A file there that is not (the user's, or edited since) is refused by
        :meth:`_Record.claim`, never counted as done; a listed one that no longer decodes is redone."""
        if not self.options.resume:
            return False
        paths = list(paths)
        missing = [p for p in paths if not self.record.unchanged(p)]
        for p in missing:
            self.record.claim(p)
        if missing:
            return False
        self.kept += len(paths)
        return True

    def image(self, path: Path, rgb: np.ndarray, bit_depth: int = 8) -> None:
        """Write (H, W, 3) float RGB in [0, 1] (or (H, W) gray uint8, for masks) to ``path``."""
        if self.done([path]):
            return
        if rgb.ndim == 2:
            ok, buf = cv2.imencode(path.suffix, rgb)
            if not ok:
                raise TranslateError(f"OpenCV could not encode {path.name}")
            data = buf.tobytes()
        else:
            data = encode_image(rgb, path.suffix, bit_depth=bit_depth, quality=self.options.quality)
        self.record.claim(path)
        try:
            atomic_write_bytes(path, data)
        except OSError as e:
            raise _write_failure(path, e) from None
        self.record.add(path, data)
        self.written += 1

    def copy(self, src: Path, dst: Path, link: bool) -> None:
        """Byte-identical copy of ``src`` at ``dst`` (or a hard link with ``link``), atomically."""
        if self.done([dst]):
            return
        self.record.claim(dst)
        try:
            data = src.read_bytes()
            if link:
                tmp = dst.with_name(f".{dst.name}.link.tmp")
                dst.parent.mkdir(parents=True, exist_ok=True)
                tmp.unlink(missing_ok=True)
                os.link(src, tmp)
                os.replace(tmp, dst)
            else:
                atomic_write_bytes(dst, data)
        except OSError as e:
            hint = "; hard links need input and output on one file system: drop --link" if link else ""
            raise _write_failure(dst, e, hint) from None
        self.record.add(dst, data)
        self.written += 1


def _decodes(path: Path) -> bool:
    try:
        data = np.fromfile(path, dtype=np.uint8)
        return data.size > 0 and cv2.imdecode(data, cv2.IMREAD_UNCHANGED) is not None
    except (OSError, cv2.error):  # unreadable, or a header OpenCV refuses: not a usable output
        return False

