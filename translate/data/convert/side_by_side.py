"""Conversions to and from ``A|B`` side-by-side images (the pix2pix layout): :func:`combine` pairs
same-named images of two folders, :func:`aligned_from_unpaired` the corresponding images of a
CycleGAN-layout folder, and :func:`split` takes such images apart again. Torch-free.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

import cv2
import numpy as np

from translate.data.convert.folders import (SPLITS, _existing_dir, _hw, _label, _prepare_output, _read,
                                            _require_images, _two_inputs)
from translate.data.convert.outputs import ConvertOptions, ConvertReport, _Outputs
from translate.data.convert.runner import _Task, _execute
from translate.data.layouts import UNALIGNED, split_aligned
from translate.errors import TranslateError
from translate.imageio import Image


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
