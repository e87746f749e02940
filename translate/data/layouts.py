"""Dataset layouts: what each recipe reads under ``--data``, declared once, torch-free.

A :class:`Layout` names the folders of one kind of dataset, the images it reads in them, how
files of two folders pair up (:func:`rain_pair_key`, :func:`sr_pair_key`) and which sizes
partners must have. :meth:`Layout.find` answers "what will training see in this folder, and
what stops it"; the recipe's dataset (``translate/data``), `translate convert check` and
`translate eval` all ask it, and the `translate convert` subcommands named in
:attr:`Layout.writers` write it, so the four cannot disagree. :data:`LAYOUTS` lists them by the
name `convert check --layout` takes.

Also here, because several of those parts read them: the A|B side-by-side split of paired
images (:func:`split_aligned`) and the inpainting mask rule (:func:`hole_mask`, :func:`image_hole`,
:func:`read_mask`: white = hole), which training, `translate run` and `translate serve` share.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from translate.errors import TranslateError

if TYPE_CHECKING:
    import numpy as np

    from translate.imageio import Image

# numpy, OpenCV and translate.imageio are imported where used: the CLI reads LAYOUTS to build its
# parser, and `translate --help` imports nothing heavy.

#: The preprocessing modes of the paired / unpaired datasets (``--preprocess``; built by
#: :func:`translate.data.datasets.build_transform`). Here, torch-free, so the training config can check it.
PREPROCESS = ("resize_and_crop", "crop", "resize", "none")

__all__ = ["PREPROCESS", "Layout", "Found", "LAYOUTS", "layout", "image_files", "split_folders", "split_aligned",
           "rain_pair_key", "sr_pair_key", "lr_folder", "match_pairs", "hole_mask", "MASK_GREY_LIMIT",
           "mask_grey_fraction", "image_hole", "read_mask"]


# --------------------------------------------------------------------------------------------
# Rules of single files


def image_files(folder: str | os.PathLike) -> list[Path]:
    """The image files directly in ``folder`` (by suffix, see ``IMAGE_EXTENSIONS``), sorted by
    name; hidden names (``.x.png``, macOS ``._x.jpg``) are left out. A missing folder gives []."""
    from translate.imageio import IMAGE_EXTENSIONS

    folder = Path(folder)
    if not folder.is_dir():
        return []
    try:
        entries = list(folder.iterdir())
    except OSError as e:
        raise TranslateError(f"{folder}: cannot list the folder ({e.strerror or e})") from None
    return sorted(f for f in entries
                  if f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith(".") and f.is_file())


def split_folders(data: str | os.PathLike) -> list[Path]:
    """A ``--data`` value -> folders: one folder, or several separated by commas or ``os.pathsep``."""
    parts = [p.strip() for p in re.split(rf"[,{re.escape(os.pathsep)}]", str(data)) if p.strip()]
    if not parts:
        raise TranslateError("--data is empty; give a dataset folder (or several separated by commas)")
    return [Path(p) for p in parts]


def split_aligned(image: np.ndarray, source: str = "image") -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)`` halves of an (H, W, ...) A|B side-by-side image: columns ``[0, W//2)`` and
    ``[W//2, 2*(W//2))`` (an odd last column is dropped). Raises TranslateError naming ``source``
    when the image is narrower than 2 pixels."""
    width = image.shape[1]
    if width < 2:
        raise TranslateError(f"{source}: image is {width} pixel wide; expected A and B side by side")
    half = width // 2
    return image[:, :half], image[:, half:2 * half]


def hole_mask(mask: np.ndarray) -> np.ndarray:
    """The inpainting mask rule: (H, W) bool, True (hole) where ``mask`` is in the upper half of
    its range: > 127 for uint8, > 32767 for uint16, > 0.5 for floats in [0, 1]; bool is kept."""
    import numpy as np

    mask = np.asarray(mask)
    if mask.dtype == bool:
        return mask
    peak = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(mask.dtype, 1.0)
    return mask.astype(np.float32) > 0.5 * peak


#: The share of a mask's pixels that may be grey (:func:`mask_grey_fraction`) before `translate convert
#: check` calls it not black and white: JPEG-saved or antialiased binary masks stay well under it.
MASK_GREY_LIMIT = 0.01


def mask_grey_fraction(mask: np.ndarray) -> float:
    """The share of pixels of a (H, W) or (H, W, C) uint8 / uint16 mask that are grey, i.e. more
    than 1/8 of the range away from both black and white: where :func:`hole_mask`'s threshold at
    the middle grey, not the mask's author, decides hole or not. 0.0 for a black-and-white mask."""
    import numpy as np

    mask = np.asarray(mask)
    if mask.dtype == bool or mask.size == 0:
        return 0.0
    peak = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(mask.dtype, 1.0)
    luma = mask.astype(np.float32).mean(axis=2) if mask.ndim == 3 else mask.astype(np.float32)
    return float(np.mean((luma > peak / 8) & (luma < peak * 7 / 8)))


def image_hole(image: Image) -> np.ndarray:
    """A decoded mask image (file or upload) as (H, W) bool: :func:`hole_mask` of its luma."""
    import cv2

    return hole_mask(cv2.cvtColor(image.rgb, cv2.COLOR_RGB2GRAY))


def read_mask(path: str | os.PathLike, size: tuple[int, int] | None = None) -> np.ndarray:
    """A hole mask file as (H, W) bool (:func:`image_hole`: white = hole).

    ``size`` (H, W), when given, must be the file's size, else TranslateError.
    """
    from translate.imageio import read_image

    image = read_image(path)
    if size is not None and image.size != tuple(size):
        raise TranslateError(f"mask {path} is {image.size[1]}x{image.size[0]} but the image is {size[1]}x{size[0]}; "
                             f"give a mask of the image's size (white = hole)")
    return image_hole(image)


# --------------------------------------------------------------------------------------------
# Pairing rules

_RAIN_PREFIX = re.compile(r"^(no)?rain[-_ ]?", re.IGNORECASE)


def rain_pair_key(path: Path, role: str = "") -> str:
    """The de-raining pairing key of a rainy or clean file: its stem without a leading ``rain`` /
    ``norain`` word and one ``-``, ``_`` or space after it (``rain-001.png``, ``norain_001.png``,
    ``Rain 001.png`` -> ``001``; ``1.png`` -> ``1``)."""
    return _RAIN_PREFIX.sub("", path.stem) or path.stem


def sr_pair_key(path: Path, role: str = "HR") -> str:
    """The super-resolution pairing key: the stem, without a DIV2K-style ``x<scale>`` suffix on
    the LR side (role ``LR_x4``: ``0001x4.png`` -> ``0001``)."""
    stem = path.stem
    scale = _lr_scale(role)
    if scale and stem.lower().endswith(f"x{scale}"):
        return stem[: -len(f"x{scale}")]
    return stem


def lr_folder(scale: int) -> str:
    """The name of the LR folder of an SR layout at ``scale`` (``LR_x4``)."""
    return f"LR_x{scale}"


def _lr_scale(role: str) -> int:
    m = re.fullmatch(r"LR_x(\d+)", role)
    return int(m.group(1)) if m else 0


def _sr_partner_size(role: str, size: tuple[int, int]) -> tuple[int, int]:
    scale = _lr_scale(role)
    return (size[0] // scale, size[1] // scale) if scale else size


def match_pairs(first: list[Path], second: list[Path], key: Callable[[Path], str],
                ) -> tuple[list[tuple[Path, Path]], list[Path], list[Path]]:
    """Pair the files of two folders by ``key``: ``(pairs, unmatched first, unmatched second)``,
    pairs in the order of ``first``."""
    by_key = {key(p): p for p in second}
    pairs = [(p, by_key[key(p)]) for p in first if key(p) in by_key]
    first_keys = {key(p) for p in first}
    return (pairs, [p for p in first if key(p) not in by_key],
            [p for p in second if key(p) not in first_keys])


# --------------------------------------------------------------------------------------------
# Layouts


@dataclass
class Found:
    """What :meth:`Layout.find` sees in a dataset folder.

    ``folders``: role -> folder read (e.g. ``"train"``, ``"trainA"``, ``"HR"``, ``"rain"``);
    ``files``: role -> its image files; ``pairs``: ``(first, partner)`` files of the paired roles
    (de-raining ``rain``/``norain``), in the order of the first role; ``errors``: what stops
    training (missing folders, empty ones, files without a partner the recipe needs);
    ``warnings``: what training ignores or works around.
    """

    layout: "Layout"
    root: Path
    folders: dict[str, Path] = field(default_factory=dict)
    files: dict[str, list[Path]] = field(default_factory=dict)
    pairs: dict[str, list[tuple[Path, Path]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def require(self) -> "Found":
        """``self``, or TranslateError with the first error (what a dataset raises)."""
        if self.errors:
            raise TranslateError(self.errors[0])
        return self

    def training_files(self) -> list[Path]:
        """The image files of the roles training reads (:attr:`Layout.folders` or the own-images role)."""
        return [p for role in self.layout.training_roles if role in self.files for p in self.files[role]]


@dataclass(frozen=True)
class Layout:
    """One dataset layout (see the module docstring).

    - ``name``: the `convert check --layout` name; ``recipes``: the `translate train` recipes that
      read it; ``writers``: the `translate convert` subcommands that write it (``writes``: what of
      it they write); ``description``: one line for error messages.
    - ``folders``: the subfolders training reads (each must hold images); ``own_images``: the role
      the folder's own images play when none of ``folders`` exists (``None``: the subfolders are
      required); ``optional``: further subfolders read when present (validation / test splits,
      masks); ``optional_pattern``: a regex of further subfolder names (SR ``LR_x<N>``).
    - ``pair_key``: ``(file, role) -> key`` pairing each other role's files with the first role's
      (``None``: no pairing). A first-role file without a partner in another of ``folders`` stops
      training (a rainy image without its clean target); in a folder training does not read (SR's
      ``LR_x<N>``) it is a warning. ``partner_size``: ``(role, first file's (H, W)) -> partner's
      (H, W)``; ``partner_noun`` and ``naming`` word the message about a missing partner.
    - ``side_by_side``: each file is an A|B pair (:func:`split_aligned`); ``mask_roles``: folders
      of hole masks (:func:`read_mask`); ``small_images``: what training does with small images
      (said next to the shortest side `convert check` finds); ``small_side``: the side in px under
      which the recipe, with its defaults, leaves a training image out (0: none); `convert check`
      warns when most training images are under it.
    """

    name: str
    recipes: tuple[str, ...]
    writers: tuple[str, ...]
    description: str
    folders: tuple[str, ...]
    own_images: str | None = None
    optional: tuple[str, ...] = ()
    optional_pattern: str | None = None
    pair_key: Callable[[Path, str], str] | None = None
    partner_size: Callable[[str, tuple[int, int]], tuple[int, int]] | None = None
    partner_noun: str = "partner"
    naming: str = "give partners the same name"
    side_by_side: bool = False
    mask_roles: tuple[str, ...] = ()
    writes: str = "this layout"
    small_images: str = ""
    small_side: int = 0

    @property
    def readers(self) -> str:
        """The recipes that read this layout, for messages: "the pix2pix recipe", "the cyclegan and
        cut recipes"."""
        *first, last = self.recipes
        return f"the {last} recipe" if not first else f"the {', '.join(first)} and {last} recipes"

    @property
    def training_roles(self) -> tuple[str, ...]:
        """The roles whose images training reads."""
        return self.folders + ((self.own_images,) if self.own_images and self.own_images not in self.folders else ())

    @property
    def summary(self) -> str:
        """The folders in a few words, e.g. ``trainA/ + trainB/ [+ testA/, testB/]``."""
        text = " + ".join(f"{n}/" for n in self.folders)
        if self.own_images:
            role = "" if self.own_images in self.folders else f": {self.own_images}"
            text += f" (or the folder's own images{role})"
        more = [f"{n}/" for n in self.optional]
        if self.optional_pattern:
            more.append(self.optional_pattern.replace(r"\d+", "<N>") + "/")
        return text + (f" [+ {', '.join(more)}]" if more else "")

    def hint(self) -> str:
        """Where the layout comes from, for error messages."""
        writers = " / ".join(f"`translate convert {w}`" for w in self.writers)
        return f"{writers} writes {self.writes}" if writers else ""

    def find(self, root: str | os.PathLike) -> Found:
        """The folders, files and pairs the recipe reads in ``root``, and what would stop it.

        Lists files only (nothing is decoded): `translate convert check` decodes them itself.
        """
        root = Path(root)
        found = Found(self, root)
        if not root.is_dir():
            found.errors.append(f"{root}: dataset folder not found; expected {self.description}")
            return found
        present = [n for n in self.folders if (root / n).is_dir()]
        if not present and self.own_images and image_files(root):
            found.folders[self.own_images] = root
        elif len(present) < len(self.folders):
            missing = " and ".join(n + "/" for n in self.folders if n not in present)
            what = f"no images found (missing {missing})" if self.own_images and not present else f"missing {missing}"
            found.errors.append(f"{root}: {what}; expected {self.description}; {self.hint()}")
            return found
        else:
            found.folders.update((n, root / n) for n in self.folders)
        found.folders.update((n, root / n) for n in self.optional if (root / n).is_dir())
        if self.optional_pattern:
            found.folders.update((p.name, p) for p in sorted(root.iterdir())
                                 if p.is_dir() and re.fullmatch(self.optional_pattern, p.name))
        found.files = {role: image_files(folder) for role, folder in found.folders.items()}
        for role in self.training_roles:
            if role in found.files and not found.files[role]:
                found.errors.append(f"{found.folders[role]}: no images found; expected {self.description}")
        if self.pair_key is not None and self.folders[0] in found.files:
            self._pair(found)
        return found

    def pair(self, first: list[Path], other: list[Path], role: str, first_dir: Path, other_dir: Path,
             ) -> tuple[list[tuple[Path, Path]], list[str], list[str]]:
        """Pair the first role's files with those of ``role`` by :attr:`pair_key`:
        ``(pairs, errors, warnings)``; a first-role file without a partner is an error when
        training reads ``role`` (it is one of :attr:`folders`), else a warning."""
        assert self.pair_key is not None, f"the {self.name} layout pairs no files"
        pairs, lone_first, lone_other = match_pairs(first, other, lambda p: self.pair_key(p, role))  # type: ignore
        errors, warnings = [], []
        if lone_first:
            message = (f"{first_dir}: {len(lone_first)} image(s) have no {self.partner_noun} in {other_dir} "
                       f"(first: {lone_first[0].name})")
            if role in self.folders:
                errors.append(f"{message}; {self.naming}")
            else:
                warnings.append(f"{message}; {other_dir.name}/ is not read by {self.readers}")
        if lone_other:
            warnings.append(f"{other_dir}: {len(lone_other)} image(s) have no partner in {first_dir} (first: "
                            f"{lone_other[0].name}); training leaves them out")
        return pairs, errors, warnings

    def _pair(self, found: Found) -> None:
        first = self.folders[0]
        for role in [r for r in found.files if r != first and r not in self.optional]:
            found.pairs[role], errors, warnings = self.pair(found.files[first], found.files[role], role,
                                                            found.folders[first], found.folders[role])
            found.errors += errors
            found.warnings += warnings


ALIGNED = Layout(
    "aligned", ("pix2pix",), ("combine", "aligned-from-unpaired"),
    "a folder (or its train/ subfolder) of images with A on the left half and B on the right half",
    folders=("train",), own_images="train", optional=("val", "test"), side_by_side=True)
UNALIGNED = Layout(
    "unaligned", ("cyclegan", "cut"), ("unpaired",),
    "an unpaired dataset with trainA/ and trainB/ subfolders of images (testA/, testB/ optional)",
    folders=("trainA", "trainB"), optional=("valA", "valB", "testA", "testB"))
SR = Layout(
    "sr", ("srgan",), ("sr",),
    "HR images in HR/ (or the folder itself); LR_x<N>/ is optional: the recipe makes LR images from HR",
    folders=("HR",), own_images="HR", optional_pattern=r"LR_x\d+", pair_key=sr_pair_key,
    partner_size=_sr_partner_size, small_images="images with a side under --patch-size are left out",
    small_side=96)  # the srgan recipe's default --patch-size (tests/data/test_convert_check.py holds them equal)
DERAIN = Layout(
    "derain", ("derain",), ("rain",),
    "rain/ (rainy inputs) and norain/ (clean targets), e.g. rain/rain-001.png <-> norain/norain-001.png, "
    "or a folder of clean images that get synthetic rain",
    folders=("rain", "norain"), own_images="clean", pair_key=rain_pair_key, partner_size=lambda role, size: size,
    partner_noun="clean partner",
    naming="name them rain-N / norain-N or give both the same name")
INPAINT = Layout(
    "inpaint", ("inpaint",), ("masks",),
    "clean training images in images/ (or the folder itself) and optionally mask images in masks/ "
    "(white = hole, any size; drawn at random for --masks files)",
    folders=("images",), own_images="images", optional=("masks",), mask_roles=("masks",),
    writes="its masks/ (`translate convert masks DIR/masks --count N`)",
    small_images="images smaller than the network input are enlarged")

#: Every layout by its `translate convert check --layout` name.
LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in (ALIGNED, UNALIGNED, SR, DERAIN, INPAINT)}


def layout(name: str) -> Layout:
    """The layout called ``name``; TranslateError listing the names for an unknown one."""
    if name not in LAYOUTS:
        raise TranslateError(f"unknown layout '{name}'; use one of {', '.join(LAYOUTS)}")
    return LAYOUTS[name]
