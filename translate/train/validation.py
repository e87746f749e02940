"""Validation during training: PSNR / SSIM on held-out pairs.

A paired recipe opts in with two hooks on :class:`translate.train.recipes.Recipe`:
``build_val_dataset(config, folder)`` (deterministic items: no random crop or flip) and
``validate(batch) -> (output, target)``, plus the class attributes ``val_y_channel`` (SR and
de-raining measure on the luma Y, pix2pix on RGB) and ``val_crop_border``. Every
``--val-every`` iterations the trainer asks :meth:`Validator.evaluate` for the scores: it runs
the networks in eval mode without gradients on at most ``--val-max-images`` items and returns
``val_psnr`` / ``val_ssim``; the trainer logs them and decides what to save (``best.pt``). It
draws no random numbers and restores each network's train / eval mode, so exact resume still
holds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import default_collate

from translate.errors import TranslateError
from translate.metrics import psnr, ssim
from translate.train.recipes import Recipe


def val_folder(config: Any) -> Path:
    """``--val-data`` or else the dataset's ``val/`` split; TranslateError when neither exists."""
    if config.val_data:
        folder = Path(config.val_data)
        if not folder.is_dir():
            raise TranslateError(f"--val-data {folder}: validation folder not found")
        return folder
    split = Path(config.data) / "val"
    if split.is_dir():
        return split
    raise TranslateError(f"--val-every needs validation images: pass --val-data DIR or add a val/ folder to "
                         f"{config.data}")


def to_unit_rgb(t: torch.Tensor) -> np.ndarray:
    """(B, C, H, W) in [-1, 1] -> (B, H, W, C) float32 in [0, 1] (C = 1 or 3)."""
    return ((t.detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()


class Validator:
    """Runs ``recipe``'s validation on ``config``'s validation folder and returns the scores."""

    def __init__(self, recipe: Recipe, config: Any):
        self.recipe, self.config = recipe, config
        folder = val_folder(config)
        dataset = type(recipe).build_val_dataset(config, folder)
        if dataset is None:
            raise TranslateError(f"--val-every: the {recipe.name} recipe has no validation (paired recipes only); "
                                 f"train without --val-every")
        self.dataset = dataset
        self.count = min(len(dataset), config.val_max_images) if config.val_max_images else len(dataset)

    def evaluate(self) -> dict[str, float]:
        """Mean ``val_psnr`` (dB) and ``val_ssim`` over the validation items (nets in eval mode)."""
        nets = self.recipe.nets.values()
        modes = [net.training for net in nets]
        scores: list[tuple[float, float]] = []
        y, border = self.recipe.val_y_channel, self.recipe.val_crop_border  # an instance may set its own
        try:
            for net in nets:
                net.eval()
            with torch.no_grad():
                for start in range(0, self.count, self.config.batch_size):
                    batch = default_collate([self.dataset[i] for i in
                                             range(start, min(start + self.config.batch_size, self.count))])
                    output, target = self.recipe.validate(batch)
                    for o, t in zip(to_unit_rgb(output), to_unit_rgb(target)):
                        o, t = (o[..., 0], t[..., 0]) if o.shape[-1] == 1 else (o, t)
                        scores.append((psnr(o, t, crop_border=border, y_channel=y and o.ndim == 3),
                                       ssim(o, t, crop_border=border, y_channel=y and o.ndim == 3)))
        finally:
            for net, mode in zip(nets, modes):
                net.train(mode)
        finite = [s for s in scores if math.isfinite(s[0])] or [(100.0, 1.0)]  # identical images: inf dB
        return {"val_psnr": float(np.mean([s[0] for s in finite])), "val_ssim": float(np.mean([s[1] for s in scores]))}
