"""DiffAugment (Zhao et al. 2020): differentiable augmentation of every image a discriminator sees.

With little data a discriminator memorises the training images and its verdicts stop helping
the generator. DiffAugment augments real and generated images alike, whenever D sees them (in D's
step and in G's step), with transforms that are differentiable, so G's gradient flows back through
them. The policy is the paper's ``color,translation,cutout``: brightness + U(-0.5, 0.5),
saturation x U(0, 2), contrast x U(0.5, 1.5); translation by up to 1/8 of the image size with
zero padding; a cutout (zeroed) square of half the image size at a random position. Each call
draws its own parameters, one set per batch item, from torch's RNG (so checkpoints that save the
RNG resume exactly); real and fake batches get independent draws of the same transform family.
Images are in [-1, 1], so zero is mid-grey, as in the paper's code.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from translate.errors import TranslateError

#: The policy's parts, in the order they are applied.
OPS = ("color", "translation", "cutout")
TRANSLATION_RATIO = 1 / 8  # largest shift, as a fraction of the image height / width
CUTOUT_RATIO = 1 / 2  # side of the cutout square, as a fraction of the image height / width


def parse_policy(text: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` -> ``("color", "translation", "cutout")`` in :data:`OPS`
    order ('' -> ``()``: off); an unknown part raises a one-line TranslateError."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in parts if p not in OPS]
    if unknown:
        raise TranslateError(f"--diffaugment: unknown part {', '.join(map(repr, unknown))}; use a comma-separated "
                             f"subset of {','.join(OPS)} (empty: off)")
    return tuple(op for op in OPS if op in parts)


def _color(x: torch.Tensor, groups: Sequence[int]) -> torch.Tensor:
    """Brightness, saturation, contrast on (B, C, H, W) whose channels are images of ``groups``
    channels: the images of one item share its three factors; saturation and contrast use the
    mean of each image on its own."""
    def uniform(low: float, high: float) -> torch.Tensor:  # one draw per batch item
        return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) * (high - low) + low

    brightness, saturation, contrast = uniform(-0.5, 0.5), uniform(0.0, 2.0), uniform(0.5, 1.5)
    parts = []
    for part in torch.split(x, list(groups), dim=1):
        part = part + brightness
        mean = part.mean(dim=1, keepdim=True)
        part = (part - mean) * saturation + mean
        mean = part.mean(dim=(1, 2, 3), keepdim=True)
        parts.append((part - mean) * contrast + mean)
    return torch.cat(parts, dim=1)


def _translation(x: torch.Tensor) -> torch.Tensor:
    """Shift each item of (B, C, H, W) by whole pixels, up to 1/8 of H and W; zeros enter."""
    b, _, h, w = x.shape
    sy, sx = int(h * TRANSLATION_RATIO + 0.5), int(w * TRANSLATION_RATIO + 0.5)
    dy = torch.randint(-sy, sy + 1, (b, 1, 1), device=x.device)
    dx = torch.randint(-sx, sx + 1, (b, 1, 1), device=x.device)
    # Gather from a copy padded by one zero pixel: indices pushed past the border clamp onto the
    # padding, so every pixel that comes from outside the image is zero.
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + dy + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + dx + 1).clamp(0, w + 1)
    items = torch.arange(b, device=x.device).view(b, 1, 1)
    padded = F.pad(x, (1, 1, 1, 1)).permute(0, 2, 3, 1)
    return padded[items, rows, cols].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor) -> torch.Tensor:
    """Zero a square of half the height and width of each item of (B, C, H, W), centred at a
    random pixel (so it may stick out of the image)."""
    b, _, h, w = x.shape
    ch, cw = int(h * CUTOUT_RATIO + 0.5), int(w * CUTOUT_RATIO + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1) - cy + ch // 2
    cols = torch.arange(w, device=x.device).view(1, 1, w) - cx + cw // 2
    inside = (rows >= 0) & (rows < ch) & (cols >= 0) & (cols < cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def diff_augment(x: torch.Tensor, policy: Sequence[str], groups: Sequence[int] | None = None) -> torch.Tensor:
    """Apply ``policy`` (parts of :data:`OPS`) to (B, C, H, W) images in [-1, 1]; differentiable.

    ``groups`` splits the C channels into images stacked on the channel axis (pix2pix's
    discriminator sees (B, 3 + 3, H, W) condition + image): every image of one item gets the same
    transform, and saturation mixes channels only within an image. Default: one image of C
    channels. An empty policy returns ``x`` itself and draws no random numbers.
    """
    if not policy:
        return x
    groups = tuple(groups or (x.shape[1],))
    if sum(groups) != x.shape[1]:
        raise ValueError(f"groups {groups} do not add up to the {x.shape[1]} channels of the input")
    if "color" in policy:
        x = _color(x, groups)
    if "translation" in policy:
        x = _translation(x)
    if "cutout" in policy:
        x = _cutout(x)
    return x


class Augmented(nn.Module):
    """``net(diff_augment(x, policy, groups))``: a discriminator that sees augmented images.

    Holds ``net`` without owning it (its state dict is ``net``'s, under ``net.``), so recipes keep
    saving the bare discriminator; gradients reach ``net``'s weights and, through the
    augmentation, the images.
    """

    def __init__(self, net: nn.Module, policy: Sequence[str], groups: Sequence[int] | None = None):
        super().__init__()
        self.net, self.policy, self.groups = net, tuple(policy), groups

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        return self.net(diff_augment(x, self.policy, self.groups))


def augmented(net: nn.Module, policy: Sequence[str], groups: Sequence[int] | None = None) -> nn.Module:
    """``net`` itself when ``policy`` is empty, else :class:`Augmented` around it."""
    return Augmented(net, policy, groups) if policy else net
