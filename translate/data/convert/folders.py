"""The folders of a conversion, before anything is written: input folders that must exist (and,
for two, lie apart), the output folder that may neither overlap an input nor mix with files already
there (:func:`_prepare_output`), the image files under a folder in a stable order, how an input is
named in reports, reading one input with the reason of a failure kept short, and :data:`SPLITS`
(the split folder names ``train``, ``val``, ``test``). Torch-free.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from translate.data.convert.outputs import ConvertOptions, _Record
from translate.data.layouts import ALIGNED
from translate.errors import TranslateError
from translate.imageio import IMAGE_EXTENSIONS, Image, read_image

SPLITS = ALIGNED.folders + ALIGNED.optional  # train, val, test


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
