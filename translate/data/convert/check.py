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

from tqdm import tqdm

from translate.data.convert.folders import SPLITS, _existing_dir, _images_under, _read
from translate.data.convert.outputs import ConvertOptions
from translate.data.layouts import MASK_GREY_LIMIT, Found, Layout, mask_grey_fraction
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
    grey: float = 0.0  # of a mask: mask_grey_fraction


def _png_is_palette(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(26)
    return head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) == 26 and head[25] == 3


def _scan_file(path: Path, mask: bool = False) -> _Scan:
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
    grey = mask_grey_fraction(pixels) if mask else 0.0
    return _Scan(path, size=img.size, modes=tuple(modes), digest=digest, grey=grey)


@dataclass
class CheckReport:
    """Result of :func:`check`: facts (what the recipe sees), warnings, and errors (would break training)."""

    folder: Path
    layout: str
    strict: bool = False
    facts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.errors or (self.strict and self.warnings) else 0

    def lines(self) -> list[str]:
        out = [f"check {self.folder} (layout {self.layout})"]
        out += [f"  {fact}" for fact in self.facts]
        out += [f"warning: {w}" for w in self.warnings]
        out += [f"error: {e}" for e in self.errors]
        if self.errors:
            out.append(f"FAILED: {len(self.errors)} problem(s) would break training")
        elif self.strict and self.warnings:
            out.append(f"FAILED (--strict): {len(self.warnings)} warning(s)")
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
          progress: bool = True, strict: bool = False) -> CheckReport:
    """Check a dataset folder for the ``layout`` a recipe reads and say what the recipe will see.

    The folders, files and pairs are those :meth:`translate.data.layouts.Layout.find` gives the
    recipe's dataset (see :data:`translate.data.layouts.LAYOUTS`: ``aligned``, ``unaligned``, ``sr``,
    ``derain``, ``inpaint``), so what stops the dataset is an error here too. Every file is also
    decoded. Errors (exit code 1): missing folders or partners, unreadable files, pairs whose
    sizes do not fit. Warnings: what training ignores or converts (non-RGB modes, images in
    subfolders, files without a partner the recipe does not need, images repeated across train
    and val/test) and each layout's most common mistake (:func:`_check_layout`). ``strict``: the
    report's exit code is 1 on warnings too.
    """
    root = _existing_dir(folder, "dataset folder")
    declared = find_layout(layout)
    report = CheckReport(root, layout, strict=strict)
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
        masks = {p for role in declared.mask_roles for p in files.get(role, [])}
        scans = dict(zip(all_files, tqdm(pool.map(lambda p: _scan_file(p, p in masks), all_files),
                                         total=len(all_files), desc="convert check", unit="img",
                                         disable=not progress)))

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
            bad_masks = [rel(s.path) for s in good if s.grey > MASK_GREY_LIMIT]
            if bad_masks:
                report.warnings.append(
                    f"{len(bad_masks)} mask(s) are not black and white (more than {MASK_GREY_LIMIT:.0%} of their "
                    f"pixels grey): {_few(bad_masks)}; the recipe makes a hole wherever a mask is lighter than the "
                    f"middle grey, so their grey areas become arbitrary holes; save masks as pure black (kept) and "
                    f"white (hole), e.g. with `translate convert masks`")

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
    _check_layout(declared, found, scans, rel, report)
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


# --------------------------------------------------------------------------------------------
# Each layout's most common mistake: a folder the recipe reads without complaint, but not as meant

#: An A|B pair of square images is twice as wide as high (every pix2pix data set, and `convert
#: combine` of square images); an ordinary photo is at most ~1.78:1 (16:9). Images narrower than
#: this ratio are taken for single pictures, not pairs.
_SIDE_BY_SIDE_RATIO = 1.9


def _most(count: int, total: int) -> bool:
    return total > 0 and 2 * count > total


def _check_layout(declared: Layout, found: Found, scans: dict[Path, _Scan], rel: Callable[[Path], str],
                  report: CheckReport) -> None:
    """Warnings for each layout's most common mistake, which training itself would not notice."""
    training = [scans[p] for p in found.training_files() if scans[p].size]
    if declared.side_by_side:
        _check_side_by_side(found, training, report)
    if declared.small_side:
        _check_small_images(declared, found, training, report)
    if declared.pair_key is None and len(declared.folders) == 2:  # two unpaired domains (trainA/, trainB/)
        _check_unpaired_copies(declared, found, scans, rel, report)
    if declared.pair_key is not None and len(declared.folders) == 2:  # rain/ + norain/ pairs
        _check_identical_pairs(declared, found, scans, rel, report)


def _check_side_by_side(found: Found, training: list[_Scan], report: CheckReport) -> None:
    """aligned: most training images are not A|B pairs (less than ~2:1 wide), e.g. plain photos
    whose ``translate convert combine`` was forgotten: pix2pix would learn left half -> right half."""
    narrow = [s for s in training if s.size[1] < _SIDE_BY_SIDE_RATIO * s.size[0]]  # type: ignore[index]
    if not _most(len(narrow), len(training)):
        return
    h, w = collections.Counter(s.size for s in narrow).most_common(1)[0][0]  # type: ignore[misc]
    folder = _role_label(found, next(r for r in found.layout.training_roles if r in found.folders))
    report.warnings.append(
        f"{len(narrow)} of {len(training)} training images in {folder} are not side-by-side A|B pairs: they are "
        f"less than {_SIDE_BY_SIDE_RATIO:g} times as wide as high (e.g. {w}x{h}; an A|B pair of square images is "
        f"twice as wide as high), so the recipe would learn their left half -> right half ({w // 2}x{h} each); "
        f"to pair two folders of images, run `translate convert combine A_DIR B_DIR OUT` and check OUT")


def _check_small_images(declared: Layout, found: Found, training: list[_Scan], report: CheckReport) -> None:
    """sr: most HR images are already small (a side under :attr:`Layout.small_side`, the recipe's
    default crop), e.g. LR images or thumbnails given as HR: the recipe leaves them out."""
    small = [s for s in training if min(s.size) < declared.small_side]  # type: ignore[arg-type]
    if not _most(len(small), len(training)):
        return
    role = declared.training_roles[0]
    shortest = min(min(s.size) for s in small)  # type: ignore[arg-type]
    report.warnings.append(
        f"{len(small)} of {len(training)} {_role_label(found, role)} images are smaller than "
        f"{declared.small_side} px on a side (the {'/'.join(declared.recipes)} recipe's default --patch-size), so "
        f"with the defaults training leaves them out; {role} should hold high-resolution originals (the recipe "
        f"makes the LR images from them), not already-downscaled or LR images; for small images on purpose, "
        f"train with --patch-size at most {shortest}")


def _check_unpaired_copies(declared: Layout, found: Found, scans: dict[Path, _Scan],
                           rel: Callable[[Path], str], report: CheckReport) -> None:
    """unaligned: trainA/ and trainB/ that are one-to-one pairs (same file names, or the same sizes
    in the same order), or that share images: CycleGAN wants two different sets of images."""
    role_a, role_b = declared.folders
    a_files, b_files = found.files.get(role_a, []), found.files.get(role_b, [])
    if not a_files or not b_files:
        return
    a_label, b_label = _role_label(found, role_a), _role_label(found, role_b)
    why = []
    stems_a, stems_b = sorted(p.stem for p in a_files), sorted(p.stem for p in b_files)
    if len(a_files) >= 2 and stems_a == stems_b and not all(s.isdigit() for s in stems_a):  # 1.png, 2.png: no sign
        why.append(f"the same {len(a_files)} file names")
    sizes_a, sizes_b = [scans[p].size for p in a_files], [scans[p].size for p in b_files]
    if sizes_a == sizes_b and None not in sizes_a and len(set(sizes_a)) >= 3:  # several sizes, in the same order
        why.append(f"the same {len(set(sizes_a))} image sizes in the same order")
    if why:
        report.warnings.append(
            f"{a_label} and {b_label} look like paired data ({' and '.join(why)}): for "
            f"{declared.readers} they are two unrelated sets; if each A image has its B "
            f"partner, pix2pix may fit better (`translate convert combine {role_a} {role_b} OUT`, then "
            f"--layout aligned); if not, {b_label} should hold the other kind of images")
    in_b = {scans[p].digest: p for p in b_files if scans[p].digest}
    same = [(p, in_b[scans[p].digest]) for p in a_files if scans[p].digest in in_b]
    if same:
        a, b = same[0]
        report.warnings.append(
            f"{len(same)} of {len(a_files)} {a_label} images have the same pixels as a {b_label} image (first: "
            f"{rel(a)} = {rel(b)}): the two folders should hold different kinds of images (e.g. horses and "
            f"zebras); was one folder copied into both?")


def _check_identical_pairs(declared: Layout, found: Found, scans: dict[Path, _Scan],
                           rel: Callable[[Path], str], report: CheckReport) -> None:
    """derain: pairs whose input and target are the same pixels (one folder copied into both):
    the recipe would learn to change nothing. Files that do not pair up are :meth:`Layout.find`'s."""
    first, second = declared.folders
    pairs = found.pairs.get(second, [])
    same = [(a, b) for a, b in pairs if scans[a].digest and scans[a].digest == scans[b].digest]
    if same:
        a, b = same[0]
        report.warnings.append(
            f"{len(same)} of {len(pairs)} {first}/{second} pairs are the same image twice (first: {rel(a)} = "
            f"{rel(b)}): the recipe would learn to change nothing; {first}/ should hold the degraded inputs and "
            f"{second}/ their clean targets (`translate convert rain CLEAN_DIR OUT` makes rainy inputs)")
