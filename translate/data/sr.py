"""Super-resolution training data: HR images -> (LR, HR) crop pairs made on the fly.

Each item is a random HR crop (a multiple of ``scale``) of one training image, randomly flipped
and rotated by multiples of 90 degrees, and its LR version made with MATLAB's bicubic
``imresize`` (antialiased), as the SRGAN / SRResNet evaluations do. The LR crop is rounded to
8 bits, as an LR image stored in a file would be, so training sees what inference sees.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from translate.data.datasets import refuse_empty
from translate.data.degradations import make_lr, modcrop
from translate.data.layouts import SR, split_folders
from translate.errors import TranslateError
from translate.imageio import read_image, to_uint

__all__ = ["SRDataset", "split_folders", "make_lr", "modcrop"]  # the last three re-exported from their homes


class SRDataset(Dataset):
    """Random (LR, HR) crop pairs from folders of HR images (or SR layouts: their ``HR/`` folder).

    Items are ``{"lr": (3, P/scale, P/scale), "hr": (3, P, P), "path": str}`` float32 tensors in
    [0, 1] with ``P = patch_size``. ``repeat`` crops are taken per image and epoch (an epoch has
    ``repeat * len(images)`` items). Augmentation of item ``i`` in epoch ``e`` depends only on
    ``(seed, e, i)``, so resumed runs see the same data. All images are decoded once, at
    construction, and kept in memory as uint8 (the 291-image training set takes about 130 MB);
    images smaller than the patch are left out and listed in ``skipped``.
    """

    def __init__(self, folders: str | os.PathLike | list, scale: int = 4, patch_size: int = 96, repeat: int = 1,
                 augment: bool = True, seed: int = 0):
        if scale < 1:
            raise ValueError(f"scale must be >= 1, got {scale}")
        if patch_size % scale:
            raise TranslateError(f"--patch-size {patch_size} must be a multiple of --scale {scale}")
        if repeat < 1:
            raise ValueError(f"repeat must be >= 1, got {repeat}")
        folders = split_folders(folders) if isinstance(folders, (str, os.PathLike)) else [Path(f) for f in folders]
        self.files: list[Path] = []
        self.images: list[np.ndarray] = []
        self.skipped: list[Path] = []
        # each folder is an SR layout (HR/ [+ LR_x<N>/], see translate.data.layouts.SR) or itself a folder of HR images
        for path in refuse_empty([p for f in folders for p in SR.find(f).require().training_files()]):
            rgb = to_uint(read_image(path).rgb)
            if min(rgb.shape[:2]) < patch_size:
                self.skipped.append(path)
                continue
            self.files.append(path)
            self.images.append(rgb)
        if not self.files:
            raise TranslateError(f"--data {', '.join(map(str, folders))}: no image is at least {patch_size} px on "
                                 f"each side; use a smaller --patch-size")
        self.scale, self.patch_size, self.repeat, self.augment = scale, patch_size, repeat, augment
        self.seed, self.epoch = int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose crops and augmentations the next items get."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.files) * self.repeat

    def __getitem__(self, index: int) -> dict[str, Any]:
        file_index = index % len(self.files)
        hr = self.images[file_index]
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        p = self.patch_size
        top = int(rng.integers(0, hr.shape[0] - p + 1))
        left = int(rng.integers(0, hr.shape[1] - p + 1))
        crop = hr[top:top + p, left:left + p]
        if self.augment:
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
            if rng.random() < 0.5:
                crop = crop[::-1]
            crop = np.rot90(crop, int(rng.integers(0, 4)))
        crop = np.ascontiguousarray(crop)
        lr = make_lr(crop, self.scale)

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).float().div_(255.0)

        return {"lr": tensor(lr), "hr": tensor(crop), "path": str(self.files[file_index])}
