"""Inpainting data: 128x128 crops of clean images with a random hole each.

Images come from one or more inpainting layouts (:data:`translate.data.layouts.INPAINT`: ``images/``
or the folder itself, plus optional ``masks/``); each item is a random 128x128 crop at the image's
own scale (images with a side under 128 are first enlarged to 128), randomly flipped, with a hole
mask of a kind drawn from ``mask_kinds``: ``centre`` (the 64x64 middle square), ``block`` (a
random rectangle), ``strokes`` (free-form brush strokes) — all from
:func:`translate.data.degradations.make_mask` — or ``files`` (a random mask image of
``mask_dir``, by default the first ``masks/`` folder of the layouts, read by
:func:`translate.data.layouts.read_mask`, resized to 128 with nearest neighbour). Every draw comes
from ``(seed, epoch, index)``, so runs repeat and resume exactly.

Items: ``{"A": (3, 128, 128) in [-1, 1], "M": (1, 128, 128) float32 0/1 (1 = hole), "A_path": str}``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import albumentations as A
import cv2
import numpy as np
import torch

from translate.data.datasets import _SeededDataset, refuse_empty, to_tensor
from translate.data.degradations import MASK_KINDS, make_mask
from translate.data.layouts import INPAINT, image_files, read_mask
from translate.errors import TranslateError
from translate.imageio import read_image
from translate.nets.architectures import GENERATORS

IMAGE_SIZE = GENERATORS["context_encoder"].fixed_size  # the context encoder's one input side (128)
MASK_SOURCES = (*MASK_KINDS, "files")


class InpaintDataset(_SeededDataset):
    """Random 128x128 crops of the images of the layouts ``folders`` with random holes (see the module doc)."""

    def __init__(self, folders: Sequence[str | os.PathLike], mask_kinds: Sequence[str] = MASK_SOURCES[:3],
                 mask_dir: str | os.PathLike | None = None, flip: bool = True, seed: int = 0):
        super().__init__(seed)
        found = [INPAINT.find(folder).require() for folder in folders]
        self.files = refuse_empty([p for f in found for p in f.training_files()])
        if not self.files:
            raise TranslateError("no training images for inpainting: give --data DIR (a folder of images)")
        bad = [k for k in mask_kinds if k not in MASK_SOURCES]
        if bad or not mask_kinds:
            raise TranslateError(f"unknown mask kind {bad[0] if bad else '(none)'}; use {', '.join(MASK_SOURCES)}")
        self.mask_kinds = list(mask_kinds)
        self.mask_files: list[Path] = []
        if "files" in self.mask_kinds:
            if mask_dir is None:
                role = INPAINT.mask_roles[0]  # masks/
                mask_dir = next((f.folders[role] for f in found if role in f.folders), None)
            if mask_dir is None or not Path(mask_dir).is_dir():
                raise TranslateError(f"mask kind 'files' needs --mask-dir DIR (a folder of mask images) or a masks/ "
                                     f"folder in --data; got {mask_dir}")
            self.mask_files = refuse_empty(image_files(mask_dir))
            if not self.mask_files:
                raise TranslateError(f"--mask-dir {mask_dir}: no mask images found")
        steps: list[Any] = [A.Lambda(image=_enlarge_small), A.RandomCrop(IMAGE_SIZE, IMAGE_SIZE)]
        if flip:
            steps.append(A.HorizontalFlip(p=0.5))
        self.transform = A.Compose(steps)

    def __len__(self) -> int:
        return len(self.files)

    def mask(self, rng: np.random.Generator) -> np.ndarray:
        """A random (128, 128) float32 mask, 1 = hole, of a kind drawn from ``mask_kinds``."""
        kind = self.mask_kinds[int(rng.integers(len(self.mask_kinds)))]
        if kind == "files":
            path = self.mask_files[int(rng.integers(len(self.mask_files)))]
            hole = read_mask(path).astype(np.uint8)
            hole = cv2.resize(hole, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_NEAREST)
            return hole.astype(np.float32)
        return (make_mask(IMAGE_SIZE, kind, rng) > 127).astype(np.float32)

    def __getitem__(self, index: int) -> dict[str, Any]:
        rng = self.item_rng(index)
        path = self.files[index]
        self.transform.set_random_seed(self._seed_from(rng))
        crop = self.transform(image=read_image(path).rgb)["image"]
        return {"A": to_tensor(crop, 3), "M": torch.from_numpy(self.mask(rng))[None], "A_path": str(path)}


def _enlarge_small(img: np.ndarray, **_: Any) -> np.ndarray:
    h, w = img.shape[:2]
    if min(h, w) >= IMAGE_SIZE:
        return img
    factor = IMAGE_SIZE / min(h, w)
    size = (max(IMAGE_SIZE, round(w * factor)), max(IMAGE_SIZE, round(h * factor)))
    return cv2.resize(img, size, interpolation=cv2.INTER_CUBIC)
