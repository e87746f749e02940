"""U-Net generator of the reference pix2pix, built recursively, official key layout.

Each level wraps the inner one (keys nest as ``model.model.1.model.3...``): down = LeakyReLU
-> Conv4 s2 -> norm, up = ReLU -> ConvTranspose4 s2 -> norm, skip = channel concat.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from translate.nets.layers import conv_bias, norm_layer


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: ``cat([x, up(sub(down(x)))])`` (the outermost level returns no skip)."""

    def __init__(
        self, outer_nc: int, inner_nc: int, input_nc: int | None = None,
        submodule: nn.Module | None = None, outermost: bool = False, innermost: bool = False,
        norm: str = "batch", use_dropout: bool = False,
    ):
        super().__init__()
        self.outermost = outermost
        bias = conv_bias(norm)
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, 4, stride=2, padding=1, bias=bias)
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1)
            model = [downconv, submodule, nn.ReLU(True), upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, 4, stride=2, padding=1, bias=bias)
            model = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), upconv, norm_layer(norm, outer_nc)]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, stride=2, padding=1, bias=bias)
            model = [nn.LeakyReLU(0.2, True), downconv, norm_layer(norm, inner_nc), submodule,
                     nn.ReLU(True), upconv, norm_layer(norm, outer_nc)]
            if use_dropout:
                model.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """U-Net with ``num_downs`` stride-2 levels (unet_256: 8, unet_128: 7), tanh output.

    Maps (B, input_nc, H, W) in [-1, 1] to (B, output_nc, H, W); H and W must be multiples of
    ``2**num_downs``. Dropout 0.5 sits in the ``num_downs - 5`` middle 512-channel levels.
    """

    def __init__(
        self, input_nc: int = 3, output_nc: int = 3, num_downs: int = 8, ngf: int = 64,
        norm: str = "batch", use_dropout: bool = False,
    ):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"num_downs must be >= 5 (the 4 widening levels + innermost), got {num_downs}")
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, norm=norm, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, norm=norm, use_dropout=use_dropout)
        for mult in (4, 2, 1):
            block = UnetSkipConnectionBlock(ngf * mult, ngf * mult * 2, submodule=block, norm=norm)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True, norm=norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
