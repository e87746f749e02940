"""Anti-aliased down- and up-sampling (Zhang 2019, "Making Convolutional Networks Shift-Invariant
Again"), in the layout of the CUT reference code (taesungp/contrastive-unpaired-translation).

A strided convolution samples its output on a grid and aliases; blurring before subsampling (and
after zero-insertion upsampling) removes the frequencies the grid cannot hold. The reference
builds its ResNet generator and PatchGAN with these layers unless ``--no_antialias`` /
``--no_antialias_up`` are given, and its checkpoints store each layer's fixed filter as a buffer
named ``filt``, so the modules here keep that name (and its shape and values) for its
``latest_net_G.pth`` / ``latest_net_D.pth`` files to load strictly.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["binomial_filter", "BlurDownsample", "BlurUpsample"]


def binomial_filter(size: int) -> torch.Tensor:
    """The (size, size) normalised binomial blur, the outer product of a row of Pascal's
    triangle with itself divided by its sum: size 3 is [1, 2, 1] x [1, 2, 1] / 16."""
    if not 1 <= size <= 7:
        raise ValueError(f"blur filter size must be 1..7, got {size}")
    row = torch.tensor([math.comb(size - 1, k) for k in range(size)], dtype=torch.float64)
    filt = row[:, None] * row[None, :]
    return (filt / filt.sum()).to(torch.get_default_dtype())


class BlurDownsample(nn.Module):
    """Blur with a 3x3 binomial filter, then keep every second pixel (the reference ``Downsample``
    with its defaults: reflect padding, filter size 3, stride 2).

    (B, C, H, W) -> (B, C, ceil(H / 2), ceil(W / 2)); ``C`` must be ``channels``. Buffer ``filt``
    (C, 1, 3, 3): one copy of the blur per channel (a depthwise convolution), as the reference stores it.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.pad = nn.ReflectionPad2d(1)
        self.register_buffer("filt", binomial_filter(3)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(self.pad(x), self.filt, stride=2, groups=self.channels)


class BlurUpsample(nn.Module):
    """Insert zeros between pixels and blur with a 4x4 binomial filter (times 4, so the mean is
    kept): the reference ``Upsample`` with its defaults (replicate padding, filter size 4, stride 2).

    (B, C, H, W) -> (B, C, 2H, 2W); buffer ``filt`` (C, 1, 4, 4) as the reference stores it.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.pad = nn.ReplicationPad2d(1)
        self.register_buffer("filt", (binomial_filter(4) * 4)[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the reference's arithmetic: a transposed conv of the padded input with padding 2, whose
        # first row / column and (even filter) last row / column are cut to land on 2H x 2W
        out = F.conv_transpose2d(self.pad(x), self.filt, stride=2, padding=2, groups=self.channels)
        return out[:, :, 1:-1, 1:-1]
