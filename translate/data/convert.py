"""Dataset folder conversion: turn folders of images into the layouts the recipes read, and check them.

No torch here (numpy + OpenCV + tqdm). Every command follows the same rules:

- the inputs are only read: nothing is written inside an input folder, and the output folder may
  not contain an input or lie inside one;
- a non-empty output folder is refused unless ``overwrite`` (replace the files this conversion
  writes, leave others alone) or ``resume`` (keep outputs that already exist and decode, make
  the rest: an interrupted run is completed by running it again with ``resume``); the files a
  conversion wrote are listed with their size and SHA-256 in ``OUT/.translate-convert.json``, and
  an existing file is only ever replaced when it is listed there unchanged (never a file the user
  put or edited there);
- each output file is written atomically (temp file + rename), so there are no half-written files;
- an input that cannot be used (corrupt, empty, no partner, size mismatch) is skipped and listed
  with its reason; :attr:`ConvertReport.exit_code` is 1 when anything was skipped and 2 when
  nothing could be converted.

Layouts made: pix2pix ``A|B`` side-by-side images (``combine``, ``aligned_from_unpaired``; inverse
``split``), CycleGAN ``trainA/trainB/testA/testB`` (``unpaired``), super-resolution ``HR`` +
``LR_x<scale>`` (``sr``), de-raining ``rain`` + ``norain`` (``rain``), inpainting masks
(``masks``). :func:`check` reports what a recipe will see in a folder and what would break it.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import hashlib
import json
import os
import re
import threading
import time
import zlib
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np
from tqdm import tqdm

from translate.data.degradations import MASK_KINDS, RainParams, add_rain, imresize_matlab, make_mask, random_rain_params
from translate.errors import check_number
from translate.errors import TranslateError
from translate.data.layouts import ALIGNED, DERAIN, SR, UNALIGNED, Found, Layout, lr_folder, split_aligned
from translate.data.layouts import layout as find_layout
from translate.fileio import atomic_write_bytes, atomic_write_text
from translate.imageio import IMAGE_EXTENSIONS, Image, encode_image, read_image, to_uint
from translate.resilience import remove_stale_temp_files_of

SPLITS = ALIGNED.folders + ALIGNED.optional  # train, val, test
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
    ``overwrite`` / ``resume``: see the module docstring. ``progress``: show a tqdm bar.
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


@dataclass
class _Task:
    """One unit of work: ``run`` makes the files for one input (or pair).

    ``outputs`` are the files it will write when known up front (skipped as a whole by
    ``resume`` when they all decode); ``claims`` are the paths no other task may write.
    """

    source: str
    run: Callable[[_Outputs], None]
    outputs: tuple[Path, ...] = ()
    claims: tuple[Path, ...] = ()


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
        entry = self.files.get(path.relative_to(self.out).as_posix())
        ours = entry is not None and not path.is_symlink() and path.is_file() and (
            (path.stat().st_size == entry.get("size") and _sha256_file(path) == entry.get("sha256"))
            or not _decodes(path))
        if not ours:
            raise _OutputError(f"{path} was not written by translate convert (or was changed since); it is left "
                               f"alone: move it away or choose another output folder")

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
        paths = list(paths)
        if self.options.resume and all(_decodes(p) for p in paths):
            self.kept += len(paths)
            return True
        return False

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


# --------------------------------------------------------------------------------------------
# Folder safety and listing


def _existing_dir(path: str | os.PathLike, what: str = "input folder") -> Path:
    p = Path(path)
    if not p.exists():
        raise TranslateError(f"{p}: no such {what}")
    if not p.is_dir():
        raise TranslateError(f"{p}: {what} is a file, expected a folder")
    return p


def _prepare_output(out_dir: str | os.PathLike, inputs: Iterable[Path], options: ConvertOptions) -> Path:
    """Refuse outputs that overlap an input or would mix with existing files; return the folder."""
    out = Path(out_dir)
    real_out = out.resolve()
    for src in inputs:
        real_in = src.resolve()
        if real_out == real_in or real_in in real_out.parents:
            raise TranslateError(f"refusing to write into input folder {src}: choose an output folder outside it")
        if real_out in real_in.parents:
            raise TranslateError(f"refusing to write into {out}: it contains input folder {src}; "
                                 f"choose an output folder outside the inputs")
    if out.exists() and not out.is_dir():
        raise TranslateError(f"{out}: output exists and is a file; give a folder")
    if out.is_dir() and any(p.name != _Record.NAME for p in out.iterdir()) and not (options.overwrite or options.resume):
        raise TranslateError(f"{out}: output folder is not empty; use --resume to complete an interrupted "
                             f"conversion or --overwrite to replace the files this conversion writes")
    return out


def _two_inputs(a_dir: str | os.PathLike, b_dir: str | os.PathLike) -> tuple[Path, Path]:
    """The existing folders A_DIR and B_DIR, refused when they are one folder or one holds the other."""
    a, b = _existing_dir(a_dir), _existing_dir(b_dir)
    real_a, real_b = a.resolve(), b.resolve()
    if real_a == real_b:
        raise TranslateError(f"A_DIR {a} and B_DIR {b} are the same folder; give two different folders")
    if real_a in real_b.parents or real_b in real_a.parents:
        inner, outer = (b, a) if real_a in real_b.parents else (a, b)
        raise TranslateError(f"{inner} lies inside {outer}, so its images would be read as both A and B; give "
                             f"two separate folders")
    return a, b


def _images_under(root: Path, recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (by suffix), sorted by relative path; hidden names skipped."""
    candidates = root.rglob("*") if recursive else root.iterdir()
    files = [p for p in candidates
             if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def _require_images(root: Path, recursive: bool = True) -> list[Path]:
    files = _images_under(root, recursive)
    if not files:
        raise TranslateError(f"{root}: no image files ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    return files


def _label(root: Path, path: Path) -> str:
    """How an input is named in reports: its folder's name and its path below it."""
    return f"{root.name}/{path.relative_to(root).as_posix()}"


def _read(path: Path) -> Image:
    """read_image, with the path left out of the reason (the report names the input already)."""
    try:
        return read_image(path)
    except TranslateError as e:
        message = str(e)
        prefix = f"{path}: "
        raise TranslateError(message[len(prefix):] if message.startswith(prefix) else message) from None


def _hw(img: Image) -> str:
    h, w = img.size
    return f"{w}x{h}"


# --------------------------------------------------------------------------------------------
# The runner


def _execute(action: str, out: Path, tasks: list[_Task], options: ConvertOptions,
             skipped: Iterable[tuple[str, str]] = ()) -> ConvertReport:
    """Run ``tasks`` on a thread pool with a progress bar; collect counts and skipped inputs."""
    report = ConvertReport(action=action, output=out, skipped=list(skipped))
    owner: dict[Path, str] = {}
    runnable = []
    for task in tasks:
        clash = next((owner[p] for p in task.claims or task.outputs if p in owner), None)
        if clash is not None:
            report.skipped.append((task.source, f"would write the same output file as {clash}; rename one of them"))
            continue
        owner.update((p, task.source) for p in task.claims or task.outputs)
        runnable.append(task)

    start = time.perf_counter()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # read-only, a file on the path, a name too long
        raise TranslateError(f"cannot create the output folder {out}: {e.strerror or e}; choose another output "
                             f"folder") from None
    real_out = out.resolve()
    for folder in sorted({p.parent for task in runnable for p in (*task.outputs, *task.claims)}):
        real = folder.resolve()
        if real != real_out and real_out not in real.parents:
            raise TranslateError(f"{folder} leads outside the output folder {out} (a symbolic link?); remove it or "
                                 f"choose another output folder")
    record = _Record(out)
    # temp files a kill -9 left beside these outputs (only atomic_writer's names for exactly them)
    remove_stale_temp_files_of(p for task in runnable for p in task.outputs)
    pool = ThreadPoolExecutor(max_workers=options.threads)
    try:
        futures: dict[Future, _Task] = {pool.submit(_run_task, task, options, record): task for task in runnable}
        with tqdm(total=len(futures), desc=f"convert {action}", unit="img", disable=not options.progress,
                  dynamic_ncols=True) as bar:
            for future in as_completed(futures):
                task = futures[future]
                try:
                    written, kept = future.result()
                except _OutputError:
                    raise
                except TranslateError as e:
                    report.skipped.append((task.source, str(e)))
                else:
                    report.files_written += written
                    if written:
                        report.converted += 1
                    elif kept:
                        report.already_done += 1
                bar.update()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # running tasks finish their atomic writes
        with contextlib.suppress(OSError):  # (a full disk must not hide the error that stopped the run)
            record.flush()
        raise
    pool.shutdown(wait=True)
    record.flush()
    report.seconds = time.perf_counter() - start
    report.skipped.sort()
    return report


def _run_task(task: _Task, options: ConvertOptions, record: _Record) -> tuple[int, int]:
    outputs = _Outputs(options, record)
    if not (task.outputs and outputs.done(task.outputs)):
        task.run(outputs)
    return outputs.written, outputs.kept


# --------------------------------------------------------------------------------------------
# Paired A|B images


def _side_by_side(a: Image, b: Image, resize: bool) -> np.ndarray:
    """(H, W, 3) A and B -> (H, 2W, 3) A|B; B is resized to A's size when ``resize``."""
    if a.size != b.size:
        if not resize:
            raise TranslateError(f"A is {_hw(a)} but B is {_hw(b)}; use --resize to resize B to A's size")
        (h, w), (hb, wb) = a.size, b.size
        shrink = h <= hb and w <= wb
        b_rgb = np.clip(cv2.resize(b.rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC), 0, 1)
    else:
        b_rgb = b.rgb
    return np.concatenate([a.rgb, b_rgb], axis=1)


def _pair_task(a_path: Path, b_path: Path, out_file: Path, source: str, resize: bool) -> _Task:
    def run(outputs: _Outputs) -> None:
        a, b = _read(a_path), _read(b_path)
        outputs.image(out_file, _side_by_side(a, b, resize), bit_depth=max(a.bit_depth, b.bit_depth))

    return _Task(source=source, run=run, outputs=(out_file,))


def _by_stem(root: Path, files: list[Path], skipped: list[tuple[str, str]]) -> dict[tuple[str, str], Path]:
    """Key (relative folder, stem) -> file; stems that appear twice in one folder are skipped."""
    groups: dict[tuple[str, str], list[Path]] = collections.defaultdict(list)
    for f in files:
        groups[(f.parent.relative_to(root).as_posix(), f.stem)].append(f)
    unique = {}
    for key, paths in groups.items():
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            skipped.extend((_label(root, p), f"several files share the name '{key[1]}' ({names}); keep one")
                           for p in paths)
        else:
            unique[key] = paths[0]
    return unique


def _match(a_root: Path, a_files: list[Path], b_root: Path, b_files: list[Path],
           skipped: list[tuple[str, str]]) -> list[tuple[tuple[str, str], Path, Path]]:
    """Pairs of same-named files (relative folder + stem); unmatched files are reported."""
    a_keys, b_keys = _by_stem(a_root, a_files, skipped), _by_stem(b_root, b_files, skipped)
    for key in sorted(a_keys.keys() - b_keys.keys()):
        skipped.append((_label(a_root, a_keys[key]), f"no file named '{key[1]}' in {b_root / key[0]}"))
    for key in sorted(b_keys.keys() - a_keys.keys()):
        skipped.append((_label(b_root, b_keys[key]), f"no file named '{key[1]}' in {a_root / key[0]}"))
    return [(key, a_keys[key], b_keys[key]) for key in sorted(a_keys.keys() & b_keys.keys())]


def combine(a_dir: str | os.PathLike, b_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
            resize: bool = False, options: ConvertOptions = ConvertOptions()) -> ConvertReport:
    """Same-named images of ``a_dir`` and ``b_dir`` -> ``A|B`` side-by-side images (pix2pix layout).

    Files are matched by stem within the same relative subfolder (``train/``, ``val/`` ... are
    kept). Pairs whose sizes differ are skipped unless ``resize`` (B is resized to A's size).
    """
    a_root, b_root = _two_inputs(a_dir, b_dir)
    out = _prepare_output(out_dir, [a_root, b_root], options)
    skipped: list[tuple[str, str]] = []
    pairs = _match(a_root, _require_images(a_root), b_root, _require_images(b_root), skipped)
    tasks = [_pair_task(a, b, out / folder / (stem + options.suffix_for([a, b])), _label(a_root, a), resize)
             for (folder, stem), a, b in pairs]
    return _execute("combine", out, tasks, options, skipped)


def split(ab_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
          options: ConvertOptions = ConvertOptions()) -> ConvertReport:
    """``A|B`` side-by-side images -> ``out_dir/A`` and ``out_dir/B`` (subfolders kept).

    The inverse of :func:`combine`: with png output the halves are the exact original pixels.
    Images of odd width are skipped (they are not A|B pairs).
    """
    root = _existing_dir(ab_dir)
    out = _prepare_output(out_dir, [root], options)

    def task(path: Path) -> _Task:
        rel = path.relative_to(root).parent / (path.stem + options.suffix_for([path]))
        a_file, b_file = out / "A" / rel, out / "B" / rel

        def run(outputs: _Outputs) -> None:
            img = _read(path)
            h, w = img.size
            if w % 2:
                raise TranslateError(f"width {w} is odd, so this is not an A|B side-by-side image")
            a, b = split_aligned(img.rgb, str(path))
            outputs.image(a_file, a, img.bit_depth)
            outputs.image(b_file, b, img.bit_depth)

        return _Task(source=_label(root, path), run=run, outputs=(a_file, b_file))

    return _execute("split", out, [task(p) for p in _require_images(root)], options)


def _copy_task(src: Path, dst: Path, source: str, link: bool) -> _Task:
    def run(outputs: _Outputs) -> None:
        _read(src)  # a file that does not decode is skipped, not copied
        outputs.copy(src, dst, link)

    return _Task(source=source, run=run, outputs=(dst,))


def unpaired(a_dir: str | os.PathLike, b_dir: str | os.PathLike, out_dir: str | os.PathLike, *,
             test_fraction: float = 0.1, seed: int = 0, link: bool = False,
             options: ConvertOptions = ConvertOptions()) -> ConvertReport:
    """Two folders of images -> CycleGAN layout ``trainA, trainB, testA, testB``.

    A random ``test_fraction`` of each folder (drawn with ``seed``; at least one image stays in
    train) goes to test. Files are copied byte for byte (hard-linked with ``link``); images in
    subfolders are flattened as ``sub_name.ext``. Files that do not decode are skipped.
    """
    _check_numbers(test_fraction=test_fraction, seed=seed)
    roots = dict(zip("AB", _two_inputs(a_dir, b_dir)))
    out = _prepare_output(out_dir, roots.values(), options)
    tasks = []
    for index, (side, root) in enumerate(roots.items()):
        files = _require_images(root)
        n_test = min(int(round(len(files) * test_fraction)), len(files) - 1)
        rng = np.random.default_rng([seed, index])
        test = set(rng.permutation(len(files))[:n_test].tolist())
        for i, path in enumerate(files):
            name = "_".join(path.relative_to(root).parts)
            dst = out / f"{'test' if i in test else 'train'}{side}" / name
            tasks.append(_copy_task(path, dst, _label(root, path), link))
    return _execute("unpaired", out, tasks, options)


def aligned_from_unpaired(src_dir: str | os.PathLike, out_dir: str | os.PathLike, *, by_order: bool = False,
                          resize: bool = False, options: ConvertOptions = ConvertOptions()) -> ConvertReport:
    """A CycleGAN-layout folder whose A and B images correspond -> pix2pix ``train/``, ``test/`` A|B.

    For each split present (``trainA``+``trainB``, and ``val``/``test`` likewise) images are
    paired by name, or with ``by_order`` by sorted order (both folders must then hold the same
    number of images). Pairs of different sizes are skipped unless ``resize``.
    """
    root = _existing_dir(src_dir)
    out = _prepare_output(out_dir, [root], options)
    if not all((root / name).is_dir() for name in UNALIGNED.folders):  # trainA/, trainB/
        raise TranslateError(f"{root}: needs trainA/ and trainB/ folders (found: "
                             f"{', '.join(sorted(p.name for p in root.iterdir() if p.is_dir())) or 'none'})")
    skipped: list[tuple[str, str]] = []
    tasks = []
    for name in SPLITS:
        a_root, b_root = root / f"{name}A", root / f"{name}B"
        if not (a_root.is_dir() or b_root.is_dir()):
            continue
        if not (a_root.is_dir() and b_root.is_dir()):
            have, missing = (a_root, b_root) if a_root.is_dir() else (b_root, a_root)
            skipped.append((have.name + "/", f"no {missing.name}/ folder to pair it with"))
            continue
        a_files, b_files = _require_images(a_root, recursive=False), _require_images(b_root, recursive=False)
        if by_order:
            if len(a_files) != len(b_files):
                raise TranslateError(f"--by-order pairs images by position, but {a_root} has {len(a_files)} "
                                     f"images and {b_root} has {len(b_files)}")
            pairs = [(a.stem, a, b) for a, b in zip(a_files, b_files)]
        else:
            pairs = [(stem, a, b) for (_, stem), a, b in _match(a_root, a_files, b_root, b_files, skipped)]
        tasks += [_pair_task(a, b, out / name / (stem + options.suffix_for([a, b])), _label(root, a), resize)
                  for stem, a, b in pairs]
    return _execute("aligned-from-unpaired", out, tasks, options, skipped)


# --------------------------------------------------------------------------------------------
# Super-resolution, rain, masks


def _patch_starts(length: int, patch: int, stride: int) -> list[int]:
    """Patch origins along one axis covering it fully (the last patch is flush with the end)."""
    starts = list(range(0, length - patch + 1, stride))
    if starts and starts[-1] != length - patch:
        starts.append(length - patch)
    return starts


def sr(hr_dir: str | os.PathLike, out_dir: str | os.PathLike, *, scale: int = 4, patch: int | None = None,
       stride: int | None = None, options: ConvertOptions = ConvertOptions()) -> ConvertReport:
    """HR images -> ``out_dir/HR`` (cropped to a multiple of ``scale``) and ``out_dir/LR_x<scale>``.

    LR images are MATLAB-bicubic downscales (:func:`imresize_matlab`, the convention of the
    published SR benchmarks), rounded to the source bit depth. With ``patch`` both are cut into
    aligned sub-images (HR ``patch`` px every ``stride`` px, LR ``patch / scale`` px), named
    ``<stem>_s001`` ...; ``patch`` and ``stride`` must be multiples of ``scale``.
    """
    _check_numbers(scale=scale, patch=patch, stride=stride)
    if stride is not None and patch is None:
        raise TranslateError("--stride only applies with --patch; give --patch too")
    if patch is not None:
        stride = patch if stride is None else stride
        if patch % scale or stride % scale:
            raise TranslateError(f"--patch ({patch}) and --stride ({stride}) must be positive multiples "
                                 f"of --scale ({scale})")
    root = _existing_dir(hr_dir)
    out = _prepare_output(out_dir, [root], options)
    hr_root, lr_root = out / SR.folders[0], out / lr_folder(scale)  # HR/, LR_x<scale>/

    def task(path: Path) -> _Task:
        rel = path.relative_to(root).parent
        name = path.stem + options.suffix_for([path])
        whole = (hr_root / rel / name, lr_root / rel / name)

        def run(outputs: _Outputs) -> None:
            img = _read(path)
            h, w = (n - n % scale for n in img.size)
            if h == 0 or w == 0:
                raise TranslateError(f"{_hw(img)} is smaller than the scale {scale}")
            peak = 65535.0 if img.bit_depth == 16 else 255.0
            hr = to_uint(img.rgb[:h, :w], img.bit_depth)
            lr = imresize_matlab(hr, 1.0 / scale)  # integer in, MATLAB-rounded integer out
            if patch is None:
                outputs.image(whole[0], hr.astype(np.float32) / peak, img.bit_depth)
                outputs.image(whole[1], lr.astype(np.float32) / peak, img.bit_depth)
                return
            origins = [(y, x) for y in _patch_starts(h, patch, stride) for x in _patch_starts(w, patch, stride)]
            if not origins:
                raise TranslateError(f"{w}x{h} (cropped to a multiple of {scale}) is smaller than --patch {patch}")
            names = [f"{path.stem}_s{k:03d}{options.suffix_for([path])}" for k in range(1, len(origins) + 1)]
            if outputs.done([d / rel / n for n in names for d in (hr_root, lr_root)]):
                return
            lp = patch // scale
            for (y, x), n in zip(origins, names):
                outputs.image(hr_root / rel / n, hr[y:y + patch, x:x + patch].astype(np.float32) / peak, img.bit_depth)
                ly, lx = y // scale, x // scale
                outputs.image(lr_root / rel / n, lr[ly:ly + lp, lx:lx + lp].astype(np.float32) / peak, img.bit_depth)

        if patch is None:
            return _Task(source=_label(root, path), run=run, outputs=whole)
        return _Task(source=_label(root, path), run=run, claims=whole)

    return _execute("sr", out, [task(p) for p in _require_images(root)], options)


def rain(clean_dir: str | os.PathLike, out_dir: str | os.PathLike, *, seed: int = 0, light_fraction: float = 0.5,
         density: float | None = None, angle: float | None = None, length: int | None = None,
         width: float | None = None, intensity: float | None = None, veil: float | None = None,
         options: ConvertOptions = ConvertOptions()) -> ConvertReport:
    """Clean images -> de-raining pairs ``out_dir/rain/<name>`` and ``out_dir/norain/<name>``.

    Each image gets its own random :class:`RainParams` (light with probability
    ``light_fraction``) and streak pattern, drawn from ``seed`` and the image's relative path
    (so adding images does not change the others); parameters given explicitly replace the
    drawn ones for every image. ``norain`` is the clean image as read (RGB, EXIF applied).
    """
    _check_numbers(seed=seed, light_fraction=light_fraction, density=density, angle=angle, length=length, width=width,
                   intensity=intensity, veil=veil)
    root = _existing_dir(clean_dir)
    out = _prepare_output(out_dir, [root], options)
    fixed = {k: v for k, v in dict(density=density, angle=angle, length=length, width=width,
                                   intensity=intensity, veil=veil).items() if v is not None}

    def task(path: Path) -> _Task:
        rel = path.relative_to(root).parent / (path.stem + options.suffix_for([path]))
        rainy_file, clean_file = (out / name / rel for name in DERAIN.folders)  # rain/, norain/
        key = zlib.crc32(path.relative_to(root).as_posix().encode())
        rng = np.random.default_rng([seed, key])
        params = replace(random_rain_params(rng, light_fraction), **fixed)
        streak_seed = int(rng.integers(2 ** 31))

        def run(outputs: _Outputs) -> None:
            img = _read(path)
            rainy, _ = add_rain(img.rgb, **asdict(params), seed=streak_seed)
            outputs.image(rainy_file, rainy)
            outputs.image(clean_file, img.rgb)

        return _Task(source=_label(root, path), run=run, outputs=(rainy_file, clean_file))

    if fixed:  # given values are checked once, up front (drawn ones are always valid)
        try:
            probe = replace(RainParams(density=0.01, angle=0, length=10, width=1, intensity=0.5), **fixed)
            add_rain(np.zeros((8, 8, 3), np.float32), **asdict(probe), seed=0)
        except ValueError as e:
            raise TranslateError(f"bad rain parameters: {e}") from None
    return _execute("rain", out, [task(p) for p in _require_images(root)], options)


def masks(out_dir: str | os.PathLike, *, count: int, size: int = 256, kind: str = "centre", seed: int = 0,
          options: ConvertOptions = ConvertOptions()) -> ConvertReport:
    """Write ``count`` inpainting masks ``mask_00001.png`` ... (``size`` x ``size``, 255 = hole).

    Mask ``i`` is drawn from ``(seed, i)``, so the same arguments give the same files and a
    larger ``count`` extends the set. See :func:`translate.data.degradations.make_mask`.
    """
    _check_numbers(count=count, size=size, seed=seed)
    if kind not in MASK_KINDS:
        raise TranslateError(f"unknown mask kind '{kind}'; use one of {', '.join(MASK_KINDS)}")
    out = _prepare_output(out_dir, [], options)

    def task(i: int) -> _Task:
        path = out / f"mask_{i:05d}.png"

        def run(outputs: _Outputs) -> None:
            outputs.image(path, make_mask(size, kind, np.random.default_rng([seed, i])))

        return _Task(source=path.name, run=run, outputs=(path,))

    return _execute("masks", out, [task(i) for i in range(1, count + 1)], options)


# --------------------------------------------------------------------------------------------
# check


@dataclass
class _Scan:
    """What :func:`check` learns from reading one file."""

    path: Path
    size: tuple[int, int] | None = None  # (height, width)
    error: str | None = None
    modes: tuple[str, ...] = ()
    digest: str | None = None
    binary: bool = True


def _png_is_palette(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(26)
    return head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) == 26 and head[25] == 3


def _scan_file(path: Path) -> _Scan:
    try:
        img = _read(path)
    except TranslateError as e:
        return _Scan(path, error=str(e))
    modes = []
    if img.gray:
        modes.append("grayscale")
    if _png_is_palette(path):
        modes.append("palette")
    if img.alpha is not None:
        modes.append("RGBA (alpha dropped)")
    if img.bit_depth == 16:
        modes.append("16-bit")
    pixels = to_uint(img.rgb, img.bit_depth)
    digest = hashlib.sha1(str(pixels.shape).encode() + pixels.tobytes()).hexdigest()
    binary = bool(np.all((pixels == 0) | (pixels == (65535 if img.bit_depth == 16 else 255))))
    return _Scan(path, size=img.size, modes=tuple(modes), digest=digest, binary=binary)


@dataclass
class CheckReport:
    """Result of :func:`check`: facts (what the recipe sees), warnings, and errors (would break training)."""

    folder: Path
    layout: str
    facts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def lines(self) -> list[str]:
        out = [f"check {self.folder} (layout {self.layout})"]
        out += [f"  {fact}" for fact in self.facts]
        out += [f"warning: {w}" for w in self.warnings]
        out += [f"error: {e}" for e in self.errors]
        if self.errors:
            out.append(f"FAILED: {len(self.errors)} problem(s) would break training")
        else:
            recipes = "/".join(find_layout(self.layout).recipes)
            out.append(f"OK: the {recipes} recipe can read this folder ({len(self.warnings)} warning(s))")
        return out


def _few(names: list[str], limit: int = 5) -> str:
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _size_summary(scans: list[_Scan]) -> str:
    sizes = collections.Counter(f"{s.size[1]}x{s.size[0]}" for s in scans if s.size)
    if not sizes:
        return "no readable images"
    if len(sizes) == 1:
        return f"all {next(iter(sizes))}"
    common = ", ".join(f"{n} x {size}" for size, n in sizes.most_common(3))
    rest = sum(sizes.values()) - sum(n for _, n in sizes.most_common(3))
    return f"{len(sizes)} sizes: {common}" + (f", {rest} other" if rest else "")


def _role_label(found: Found, role: str) -> str:
    """How check names a role's folder: ``train/``, or ``train (the folder itself)``."""
    folder = found.folders[role]
    if folder == found.root / role:
        return f"{role}/"
    return f"{role} ({'the folder itself' if folder == found.root else folder})"


def check(folder: str | os.PathLike, layout: str, *, workers: int | None = None,
          progress: bool = True) -> CheckReport:
    """Check a dataset folder for the ``layout`` a recipe reads and say what the recipe will see.

    The folders, files and pairs are those :meth:`translate.data.layouts.Layout.find` gives the
    recipe's dataset (see :data:`translate.data.layouts.LAYOUTS`: ``aligned``, ``unaligned``, ``sr``,
    ``derain``, ``inpaint``), so what stops the dataset is an error here too. Every file is also
    decoded. Errors (exit code 1): missing folders or partners, unreadable files, pairs whose
    sizes do not fit. Warnings: what training ignores or converts (non-RGB modes, images in
    subfolders, files without a partner the recipe does not need, images repeated across train
    and val/test).
    """
    root = _existing_dir(folder, "dataset folder")
    declared = find_layout(layout)
    report = CheckReport(root, layout)
    found = declared.find(root)
    report.errors += found.errors
    report.warnings += found.warnings
    files = found.files
    for role, path in found.folders.items():
        others = {f for f in found.folders.values() if f != path}
        nested = [p for p in _images_under(path) if p.parent != path and not any(o in p.parents for o in others)]
        if nested:
            report.warnings.append(f"{_role_label(found, role)} has {len(nested)} image(s) in subfolders; the "
                                   f"recipe only reads the images directly in it")
    for role in found.folders:  # a split of a two-sided layout (testA/) without its other side (testB/)
        twin = role[:-1] + {"A": "B", "B": "A"}.get(role[-1:], "")
        if role in declared.optional and twin != role and twin in declared.optional and twin not in found.folders:
            report.warnings.append(f"{role}/ has no {twin}/ partner")

    all_files = [p for paths in files.values() for p in paths]
    with ThreadPoolExecutor(max_workers=ConvertOptions(workers=workers).threads) as pool:
        scans = dict(zip(all_files, tqdm(pool.map(_scan_file, all_files), total=len(all_files),
                                         desc="convert check", unit="img", disable=not progress)))

    def rel(p: Path) -> str:
        return p.relative_to(root).as_posix()

    for p in all_files:
        if scans[p].error:
            report.errors.append(f"{rel(p)}: {scans[p].error}")
    modes: dict[str, list[str]] = collections.defaultdict(list)
    for role, paths in files.items():
        for p in paths:
            for mode in scans[p].modes:
                if not (role in declared.mask_roles and mode == "grayscale"):  # single-channel masks are the norm
                    modes[mode].append(rel(p))
    for mode, names in modes.items():
        report.warnings.append(f"{len(names)} {mode} file(s), converted to RGB when read: {_few(names)}")

    for role, paths in files.items():
        good = [scans[p] for p in paths if not scans[p].error]
        report.facts.append(f"{_role_label(found, role)}: {len(paths)} images ({len(good)} readable), "
                            f"{_size_summary(good)}")
        if not paths and role not in declared.training_roles:
            report.warnings.append(f"{_role_label(found, role)} is empty")
        if role in declared.mask_roles:
            bad_masks = [rel(s.path) for s in good if not s.binary]
            if bad_masks:
                report.warnings.append(f"{len(bad_masks)} mask(s) hold values other than 0 and 255 (white = hole "
                                       f"above the middle grey): {_few(bad_masks)}")

    training = [scans[p] for p in found.training_files() if scans[p].size]
    if declared.side_by_side:
        for p in all_files:
            s = scans[p]
            if s.size and s.size[1] % 2:
                report.errors.append(f"{rel(p)}: width {s.size[1]} is odd, so it is not an A|B side-by-side image")
        sizes = {s.size for s in training}
        if len(sizes) == 1:
            h, w = next(iter(sizes))
            report.facts.append(f"the recipe sees {len(training)} training pairs, A and B each {w // 2}x{h}")
        elif sizes:
            report.facts.append(f"the recipe sees {len(training)} training pairs of several sizes (resized when "
                                f"loaded)")
    elif found.pairs:
        _check_pairs(declared, found, scans, rel, report)
    elif training:
        report.facts.append(_training_images(declared, training))

    _check_duplicates(found, scans, rel, report)
    return report


def _check_pairs(declared: Layout, found: Found, scans: dict[Path, _Scan], rel: Callable[[Path], str],
                 report: CheckReport) -> None:
    """Sizes of the partners :meth:`Layout.find` paired, and what the recipe sees of the pairs."""
    first = declared.folders[0]
    for role, pairs in found.pairs.items():
        mismatched = []
        for a_path, b_path in pairs:
            a, b = scans[a_path], scans[b_path]
            if not (a.size and b.size) or declared.partner_size is None:
                continue
            expected = declared.partner_size(role, a.size)
            if b.size != expected:
                mismatched.append(f"{rel(b_path)}: {b.size[1]}x{b.size[0]}, expected {expected[1]}x{expected[0]} "
                                  f"to match {rel(a_path)}")
        readable = sum(1 for a, b in pairs if not (scans[a].error or scans[b].error))
        if role in declared.folders:  # the recipe trains on these pairs
            report.errors += mismatched
            report.facts.append(f"the recipe sees {readable} {first}/{role} pairs")
        else:
            report.warnings += [f"{m} (the {'/'.join(declared.recipes)} recipe does not read {role}/)"
                                for m in mismatched]
            report.facts.append(f"{first}/{role}: {readable} pairs")
    if not any(role in declared.folders for role in found.pairs):
        training = [scans[p] for p in found.training_files() if scans[p].size]
        if training:
            report.facts.append(_training_images(declared, training))


def _training_images(declared: Layout, training: list[_Scan]) -> str:
    shortest = min(min(s.size) for s in training)  # type: ignore[arg-type]
    note = f"; {declared.small_images}" if declared.small_images else ""
    return f"the recipe sees {len(training)} training images (shortest side {shortest} px{note})"


def _check_duplicates(found: Found, scans: dict[Path, _Scan], rel: Callable[[Path], str],
                      report: CheckReport) -> None:
    """Images whose decoded pixels appear both in a train folder (``train``, ``trainA`` ...) and in
    the val / test folder of the same side (``val``, ``testA`` ...)."""
    for role, paths in found.files.items():
        split = next((name for name in SPLITS[1:] if role.startswith(name)), None)
        if split is None:
            continue
        train_role = "train" + role[len(split):]
        train = {scans[p].digest: p for p in found.files.get(train_role, []) if scans[p].digest}
        for p in paths:
            twin = train.get(scans[p].digest)
            if twin is not None and twin != p:
                report.warnings.append(f"{rel(p)} has the same pixels as training image {rel(twin)}")
