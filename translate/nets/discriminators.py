"""PatchGAN, pixel and multi-scale discriminators (reference layouts)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from translate.nets.layers import conv_bias, norm_layer


class PatchDiscriminator(nn.Module):
    """PatchGAN: classifies overlapping patches as real / fake, (B, C, H, W) -> (B, 1, h, w) logits.

    ``n_layers=3`` is the 'basic' 70x70 PatchGAN (256x256 input -> 30x30 output). Keys follow
    the reference ``model.0``, ``model.2/3``, ... ``model.11`` layout.
    """

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "batch"):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        bias = conv_bias(norm)
        seq: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=bias),
                    norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        seq += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*seq)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN ('pixel'): per-pixel real / fake logits, (B, C, H, W) -> (B, 1, H, W)."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, norm: str = "batch"):
        super().__init__()
        bias = conv_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, bias=bias), norm_layer(norm, ndf * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MultiscaleDiscriminator(nn.Module):
    """``num_D`` PatchGANs on the input downsampled by 1, 2, 4, ... (pix2pixHD style).

    Returns a list of (B, 1, h_i, w_i) logit maps, finest first; the GAN losses accept lists.
    """

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "batch",
                 num_D: int = 3):
        super().__init__()
        if num_D < 1:
            raise ValueError(f"num_D must be >= 1, got {num_D}")
        self.scales = nn.ModuleList(PatchDiscriminator(input_nc, ndf, n_layers, norm) for _ in range(num_D))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for i, d in enumerate(self.scales):
            if i:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outs.append(d(x))
        return outs
