"""`translate convert check`: read a dataset folder the way a recipe's layout finds it
(:meth:`translate.data.layouts.Layout.find`), decode every file, and report what the recipe will
see (:class:`CheckReport`): facts, warnings (what training ignores or converts) and errors (what
would break it). Writes nothing. Torch-free.
"""

from __future__ import annotations

import collections
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from translate.data.convert.folders import SPLITS, _existing_dir, _images_under, _read
from translate.data.convert.outputs import ConvertOptions
from translate.data.layouts import Found, Layout
from translate.data.layouts import layout as find_layout
from translate.errors import TranslateError
from translate.imageio import to_uint


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
