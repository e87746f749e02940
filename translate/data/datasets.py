"""Torch datasets for the image-to-image recipes: paired (A|B side by side) and unpaired folders.

Images are read with :func:`translate.imageio.read_image` (EXIF, gray, 16-bit, palette handled)
and augmented with albumentations. Every item's augmentation (and, for unpaired data, its random
B image) is drawn from a generator seeded by ``(seed, epoch, index)``, so an item is the same
whichever worker loads it, a run with ``--seed`` is repeatable, and a resumed run sees exactly
the data of an uninterrupted one. Call :meth:`set_epoch` before each epoch.

Items are dicts ``{"A": (C, H, W) float32 in [-1, 1], "B": ..., "A_path": str, "B_path": str}``.
Empty files are refused when the dataset is built; a corrupt file raises a one-line
:class:`TranslateError` naming it when it is read (bad files are not skipped silently: a
data set with broken files is fixed once rather than trained on partially).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Sequence

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no network call to PyPI at import

import albumentations as A
import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from translate.data.layouts import PREPROCESS
from translate.data.layouts import ALIGNED, UNALIGNED, image_files, split_aligned
from translate.errors import TranslateError
from translate.imageio import IMAGE_EXTENSIONS, read_image

def refuse_empty(files: Sequence[Path]) -> list[Path]:
    """``files`` as a list; TranslateError naming the first empty (0-byte) one."""
    for f in files:
        if f.stat().st_size == 0:
            raise TranslateError(f"{f}: file is empty (0 bytes); replace or remove it")
    return list(files)


def images_in_folders(folders: Sequence[str | os.PathLike], what: str) -> list[Path]:
    """The image files of every folder in ``folders`` (each sorted, see
    :func:`translate.data.layouts.image_files`; empty files refused).

    A missing folder or one without images raises a one-line TranslateError that names the
    folder and ``what`` it should hold (e.g. ``"clean images for --synthetic-rain"``).
    """
    files: list[Path] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise TranslateError(f"{folder}: folder not found; expected {what}")
        found = image_files(folder)
        if not found:
            raise TranslateError(f"{folder}: no images found; expected {what} ({', '.join(IMAGE_EXTENSIONS)})")
        files += refuse_empty(found)
    return files


def build_transform(preprocess: str, load_size: int, crop_size: int, flip: bool, multiple: int = 4,
                    paired: bool = False) -> A.Compose:
    """The albumentations pipeline for ``preprocess`` (see :data:`translate.data.layouts.PREPROCESS`).

    ``resize_and_crop``: resize to ``load_size`` square, random ``crop_size`` crop; ``crop``:
    random crop only; ``resize``: resize to ``crop_size``; ``none``: only make the sides
    multiples of ``multiple`` (rounding down, at least ``multiple``). Resizing is
    :func:`resize_bicubic` (the reference implementation's PIL bicubic). Then a random
    horizontal flip if ``flip``. ``paired`` adds the target ``image_b`` that gets the very same
    crop and flip as ``image``.
    """
    if preprocess not in PREPROCESS:
        raise ValueError(f"preprocess must be one of {PREPROCESS}, got {preprocess!r}")
    steps: list[Any] = []
    if preprocess == "resize_and_crop":
        steps += [A.Lambda(image=functools.partial(_resize_square, size=load_size)),
                  A.RandomCrop(crop_size, crop_size)]
    elif preprocess == "crop":
        # images smaller than the crop are padded (reflect) rather than refused
        steps += [A.PadIfNeeded(crop_size, crop_size, border_mode=cv2.BORDER_REFLECT_101),
                  A.RandomCrop(crop_size, crop_size)]
    elif preprocess == "resize":
        steps += [A.Lambda(image=functools.partial(_resize_square, size=crop_size))]
    else:
        steps += [A.Lambda(image=functools.partial(_round_to_multiple, multiple=multiple))]
    if flip:
        steps.append(A.HorizontalFlip(p=0.5))
    return A.Compose(steps, additional_targets={"image_b": "image"} if paired else None)


def _round_to_multiple(img: np.ndarray, multiple: int, **_: Any) -> np.ndarray:
    h, w = img.shape[:2]
    th, tw = max(multiple, h // multiple * multiple), max(multiple, w // multiple * multiple)
    return resize_bicubic(img, th, tw)


def _resize_square(img: np.ndarray, size: int, **_: Any) -> np.ndarray:
    return resize_bicubic(img, size, size)


def resize_bicubic(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W, C) or (H, W) float image -> (height, width[, C]) float32, resized as the reference
    implementation resizes (torchvision ``Resize(..., Image.BICUBIC)`` on a PIL image): Keys' cubic
    kernel with a = -0.5, widened by the factor when shrinking, so a downscale is antialiased.

    OpenCV's ``INTER_CUBIC`` (a = -0.75, never widened) aliases when shrinking: a 512 px image
    loaded at 286 came out with moire that the reference's data never has. Each channel goes
    through Pillow's 32-bit float mode, so nothing is rounded to 8 bits; values may overshoot
    [0, 1] as any cubic does (:func:`to_tensor` clips). An image already of that size is returned
    as it is.
    """
    from PIL import Image as PILImage

    if img.shape[:2] == (height, width):
        return img
    planes = img[..., None] if img.ndim == 2 else img
    out = np.stack([np.asarray(PILImage.fromarray(np.ascontiguousarray(planes[..., c], dtype=np.float32))
                               .resize((width, height), PILImage.Resampling.BICUBIC))
                    for c in range(planes.shape[2])], axis=2)
    return out if img.ndim == 3 else out[..., 0]


def to_tensor(rgb: np.ndarray, channels: int) -> torch.Tensor:
    """(H, W, 3) float in [0, 1] -> (channels, H, W) float32 in [-1, 1] (1 channel: luma)."""
    rgb = np.clip(rgb, 0.0, 1.0)  # bicubic resizing overshoots
    if channels == 1:
        rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None]
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).mul_(2.0).sub_(1.0)


class _SeededDataset(Dataset):
    """Holds the seed and the epoch; :meth:`item_rng` gives each (epoch, index) its own generator."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentations the next items get."""
        self.epoch = int(epoch)

    def item_rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(index)])

    @staticmethod
    def _seed_from(rng: np.random.Generator) -> int:
        return int(rng.integers(0, 2**31 - 1))


class EpochItems(Dataset):
    """``dataset`` indexed by ``(epoch, index)`` pairs instead of ``index``.

    The epoch travels with every index, so the worker processes of a persistent DataLoader
    (each holding its own copy of ``dataset``) give the items of the right epoch without being
    restarted to see a ``set_epoch`` call. ``dataset`` needs ``set_epoch(epoch)``.
    """

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        self.dataset.set_epoch(epoch)  # type: ignore[attr-defined]
        return self.dataset[index]


class EpochSampler(Sampler):
    """The ``(epoch, index)`` keys of one epoch for :class:`EpochItems`; :meth:`start` sets them."""

    def __init__(self) -> None:
        self.keys: list[tuple[int, int]] = []

    def start(self, epoch: int, order: Sequence[int]) -> None:
        """Make the next pass over the loader give the items ``order`` of ``epoch``."""
        self.keys = [(int(epoch), int(i)) for i in order]

    def __iter__(self):
        return iter(list(self.keys))

    def __len__(self) -> int:
        return len(self.keys)


class AlignedDataset(_SeededDataset):
    """Paired images stored as one file with A on the left half and B on the right half.

    ``root`` is a folder of such images or a folder with a ``train`` subfolder of them
    (``facades/train/1.jpg``), as :data:`translate.data.layouts.ALIGNED` declares. A and B get the
    same resize, crop and flip. ``direction`` ``BtoA`` swaps them, so ``A`` is always the network
    input and ``B`` the target.
    """

    def __init__(self, root: str | os.PathLike, direction: str = "AtoB", load_size: int = 286,
                 crop_size: int = 256, preprocess: str = "resize_and_crop", flip: bool = True,
                 seed: int = 0, input_nc: int = 3, output_nc: int = 3, multiple: int = 4):
        super().__init__(seed)
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be AtoB or BtoA, got {direction!r}")
        self.files = refuse_empty(ALIGNED.find(root).require().files["train"])
        self.direction = direction
        self.input_nc, self.output_nc = input_nc, output_nc
        self.transform = build_transform(preprocess, load_size, crop_size, flip, multiple, paired=True)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> dict[str, Any]:
        path = self.files[index]
        a, b = split_aligned(read_image(path).rgb, str(path))
        if self.direction == "BtoA":
            a, b = b, a
        self.transform.set_random_seed(self._seed_from(self.item_rng(index)))
        out = self.transform(image=a, image_b=b)
        return {"A": to_tensor(out["image"], self.input_nc), "B": to_tensor(out["image_b"], self.output_nc),
                "A_path": str(path), "B_path": str(path)}


class UnalignedDataset(_SeededDataset):
    """Two unpaired folders ``root/trainA`` and ``root/trainB`` (:data:`translate.data.layouts.UNALIGNED`).

    Item ``i`` is A image ``i mod |A|`` and a B image drawn at random (from the item's seeded
    generator); the epoch length is ``max(|A|, |B|)``. A and B are augmented independently.
    """

    def __init__(self, root: str | os.PathLike, load_size: int = 286, crop_size: int = 256,
                 preprocess: str = "resize_and_crop", flip: bool = True, seed: int = 0,
                 input_nc: int = 3, output_nc: int = 3, multiple: int = 4):
        super().__init__(seed)
        files = UNALIGNED.find(root).require().files
        self.files_A, self.files_B = (refuse_empty(files[role]) for role in UNALIGNED.folders)  # trainA/, trainB/
        self.input_nc, self.output_nc = input_nc, output_nc
        self.transform = build_transform(preprocess, load_size, crop_size, flip, multiple)

    def __len__(self) -> int:
        return max(len(self.files_A), len(self.files_B))

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = self.item_rng(index)
        path_a = self.files_A[index % len(self.files_A)]
        path_b = self.files_B[int(rng.integers(len(self.files_B)))]
        images = []
        for path in (path_a, path_b):
            self.transform.set_random_seed(self._seed_from(rng))
            images.append(self.transform(image=read_image(path).rgb)["image"])
        return {"A": to_tensor(images[0], self.input_nc), "B": to_tensor(images[1], self.output_nc),
                "A_path": str(path_a), "B_path": str(path_b)}
