"""PatchGAN, pixel and multi-scale discriminators (reference layouts)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from translate.nets.antialias import BlurDownsample
from translate.nets.layers import conv_bias, norm_layer


class PatchDiscriminator(nn.Module):
    """PatchGAN: classifies overlapping patches as real / fake, (B, C, H, W) -> (B, 1, h, w) logits.

    ``n_layers=3`` is the 'basic' 70x70 PatchGAN (256x256 input -> 30x30 output). Keys follow
    the reference ``model.0``, ``model.2/3``, ... ``model.11`` layout. With ``antialias`` (the CUT
    reference's default) each stride-2 conv becomes a stride-1 conv followed, after its norm and
    LeakyReLU, by a :class:`~translate.nets.antialias.BlurDownsample` (keys ``model.0``, ``model.2.filt``,
    ``model.3/4``, ``model.6.filt``, ``model.7/8``, ``model.10.filt``, ``model.11/12``, ``model.14``
    for n_layers 3; 256x256 input -> 30x30 output as well).
    """

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "batch",
                 antialias: bool = False):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        bias = conv_bias(norm)
        first_stride = 1 if antialias else 2
        seq: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=first_stride, padding=1), nn.LeakyReLU(0.2, True)]
        if antialias:
            seq.append(BlurDownsample(ndf))
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            down = n < n_layers
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2 if down and not antialias else 1, padding=1,
                              bias=bias),
                    norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
            if down and antialias:
                seq.append(BlurDownsample(ndf * mult))
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
