"""ResNet generator of the reference CycleGAN (Johnson et al. style), official key layout.

Layout of ``model`` for 2 downsamplings and n blocks (``resnet_9blocks``: 48 keys with
instance norm): 0 pad, 1 conv7, 2 norm, 3 relu, 4/7 stride-2 convs (+norm, relu),
10..9+n ResnetBlocks, then two transposed convs, pad, conv7 (index 26 for 9 blocks), tanh.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from translate.nets.layers import conv_bias, norm_layer

PADDINGS = ("reflect", "replicate", "zero")


def _pad(padding_type: str, p: int) -> list[nn.Module]:
    if padding_type == "reflect":
        return [nn.ReflectionPad2d(p)]
    if padding_type == "replicate":
        return [nn.ReplicationPad2d(p)]
    if padding_type == "zero":
        return []
    raise ValueError(f"padding_type must be one of {PADDINGS}, got {padding_type!r}")


class ResnetBlock(nn.Module):
    """Two 3x3 convs with norm and a skip: ``x + conv_block(x)``; (B, C, H, W) -> same."""

    def __init__(self, dim: int, padding_type: str, norm: str, use_dropout: bool):
        super().__init__()
        p = 0 if padding_type != "zero" else 1
        bias = conv_bias(norm)
        block: list[nn.Module] = _pad(padding_type, 1)
        block += [nn.Conv2d(dim, dim, 3, padding=p, bias=bias), norm_layer(norm, dim), nn.ReLU(True)]
        if use_dropout:
            block += [nn.Dropout(0.5)]
        block += _pad(padding_type, 1)
        block += [nn.Conv2d(dim, dim, 3, padding=p, bias=bias), norm_layer(norm, dim)]
        self.conv_block = nn.Sequential(*block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Encoder (2 stride-2 convs) -> ``n_blocks`` residual blocks -> decoder, tanh output.

    Maps (B, input_nc, H, W) in [-1, 1] to (B, output_nc, H, W) in [-1, 1]; H and W must be
    multiples of 4 for the output to have the input's size. Parameter names reproduce the
    official CycleGAN checkpoints, so their ``.pth`` files load with ``strict=True``.
    """

    def __init__(
        self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, norm: str = "instance",
        use_dropout: bool = False, n_blocks: int = 9, padding_type: str = "reflect",
    ):
        super().__init__()
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        bias = conv_bias(norm)
        model: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias), norm_layer(norm, ngf), nn.ReLU(True),
        ]
        n_down = 2
        for i in range(n_down):
            c = ngf * 2**i
            model += [nn.Conv2d(c, c * 2, 3, stride=2, padding=1, bias=bias), norm_layer(norm, c * 2), nn.ReLU(True)]
        c = ngf * 2**n_down
        model += [ResnetBlock(c, padding_type, norm, use_dropout) for _ in range(n_blocks)]
        for i in range(n_down):
            c = ngf * 2 ** (n_down - i)
            model += [
                nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                norm_layer(norm, c // 2), nn.ReLU(True),
            ]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
