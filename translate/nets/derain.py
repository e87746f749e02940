"""ID-CGAN de-raining generator (Zhang, Sindagi, Patel): a densely connected encoder-decoder.

The network predicts a *correction* that is added to its input (residual output): rain is a
sparse additive layer, so most pixels must pass through untouched, and an identity-initialised
residual net starts exactly there (its last convolution is zero-initialised) instead of having
to learn to repaint clean regions.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from translate.nets.layers import norm_layer


class DenseLayer(nn.Module):
    """norm -> ReLU -> 3x3 conv producing ``growth`` channels, concatenated to its input."""

    def __init__(self, in_channels: int, growth: int, norm: str):
        super().__init__()
        self.body = nn.Sequential(norm_layer(norm, in_channels), nn.ReLU(inplace=False),
                                  nn.Conv2d(in_channels, growth, 3, padding=1, bias=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], 1)


class DenseBlock(nn.Sequential):
    """``n_layers`` :class:`DenseLayer` s; (B, C, H, W) -> (B, C + n_layers * growth, H, W)."""

    def __init__(self, in_channels: int, n_layers: int, growth: int, norm: str):
        layers = [DenseLayer(in_channels + i * growth, growth, norm) for i in range(n_layers)]
        super().__init__(*layers)
        self.out_channels = in_channels + n_layers * growth


def _transition(in_channels: int, out_channels: int, norm: str, resample: str) -> nn.Sequential:
    """1x1 conv (channel reduction) then 2x average pooling (``down``) or 2x nearest upsampling (``up``)."""
    layers: list[nn.Module] = [norm_layer(norm, in_channels), nn.ReLU(inplace=False),
                               nn.Conv2d(in_channels, out_channels, 1, bias=True)]
    layers.append(nn.AvgPool2d(2) if resample == "down" else nn.Upsample(scale_factor=2, mode="nearest"))
    return nn.Sequential(*layers)


class DerainGenerator(nn.Module):
    """Densely connected encoder-decoder with a residual output, (B, C, H, W) -> (B, C, H, W).

    ``levels`` transition-down layers (so H and W must be multiples of ``2 ** levels``), each
    after a dense block of ``layers_per_block`` layers of ``growth`` channels; a dense
    bottleneck; then mirrored transition-up layers, each followed by a dense block over the
    upsampled features concatenated with the encoder features of the same scale. A final 3x3
    conv gives the correction ``r`` and the output is ``x + r`` (the input in the network's
    value range, e.g. [-1, 1]); ``r`` starts at exactly 0, so the untrained net is the identity.
    ``norm`` is ``none`` by default: no batch statistics, so tiles equal the whole image.
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 32, growth: int = 16,
                 layers_per_block: int = 4, levels: int = 3, norm: str = "none"):
        super().__init__()
        if input_nc != output_nc:
            raise ValueError(f"a residual generator needs input_nc == output_nc, got {input_nc} and {output_nc}")
        if levels < 1 or layers_per_block < 1 or ngf < 1 or growth < 1:
            raise ValueError("levels, layers_per_block, ngf and growth must all be >= 1")
        self.levels = levels
        self.head = nn.Conv2d(input_nc, ngf, 3, padding=1)
        self.down_blocks, self.downs = nn.ModuleList(), nn.ModuleList()
        channels, skips = ngf, []
        for i in range(levels):
            block = DenseBlock(channels, layers_per_block, growth, norm)
            self.down_blocks.append(block)
            skips.append(block.out_channels)
            channels = block.out_channels // 2
            self.downs.append(_transition(block.out_channels, channels, norm, "down"))
        self.bottleneck = DenseBlock(channels, layers_per_block, growth, norm)
        channels = self.bottleneck.out_channels
        self.ups, self.up_blocks = nn.ModuleList(), nn.ModuleList()
        for skip in reversed(skips):
            up_channels = channels // 2
            self.ups.append(_transition(channels, up_channels, norm, "up"))
            block = DenseBlock(up_channels + skip, layers_per_block, growth, norm)
            self.up_blocks.append(block)
            channels = block.out_channels
        self.tail = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(channels, output_nc, 3, padding=1))
        self.zero_output()

    def zero_output(self) -> None:
        """Zero the last convolution so the network is the identity (call after a weight init)."""
        nn.init.zeros_(self.tail[1].weight)
        nn.init.zeros_(self.tail[1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2 ** self.levels
        if h % m or w % m:
            raise ValueError(f"input height and width must be multiples of {m}, got {h}x{w}")
        feats = self.head(x)
        skips = []
        for block, down in zip(self.down_blocks, self.downs):
            feats = block(feats)
            skips.append(feats)
            feats = down(feats)
        feats = self.bottleneck(feats)
        for up, block in zip(self.ups, self.up_blocks):
            feats = block(torch.cat([up(feats), skips.pop()], 1))
        return x + self.tail(feats)

