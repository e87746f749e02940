"""ResNet generator of the reference CycleGAN (Johnson et al. style), official key layout.

Layout of ``model`` for 2 downsamplings and n blocks (``resnet_9blocks``: 48 keys with
instance norm): 0 pad, 1 conv7, 2 norm, 3 relu, 4/7 stride-2 convs (+norm, relu),
10..9+n ResnetBlocks, then two transposed convs, pad, conv7 (index 26 for 9 blocks), tanh.

With ``antialias`` (the CUT reference's default) each downsampling is a stride-1 conv, norm, relu
and a :class:`~translate.nets.antialias.BlurDownsample` (4 modules instead of 3); with
``antialias_up`` each upsampling is a :class:`~translate.nets.antialias.BlurUpsample`, a 3x3 conv,
norm and relu instead of a transposed conv. ``resnet_9blocks`` with both (a CUT ``latest_net_G.pth``):
0 pad, 1 conv7, 2 norm, 3 relu, 4 conv3, 5 norm, 6 relu, 7 blur-down, 8 conv3, 9 norm, 10 relu,
11 blur-down, 12..20 ResnetBlocks, 21 blur-up, 22 conv3, 23 norm, 24 relu, 25 blur-up, 26 conv3,
27 norm, 28 relu, 29 pad, 30 conv7, 31 tanh (the blur layers store their filter as ``model.N.filt``).

:meth:`ResnetGenerator.encode` is the feature hook contrastive losses read (PatchNCE): the outputs
of chosen entries of ``model``, by index, exactly as the reference's ``netG(x, nce_layers,
encode_only=True)``. CUT's ``--nce-layers 0,4,8,12,16`` are, in the anti-aliased layout: 0 the
reflect-padded input (input_nc channels, (H+6) x (W+6)); 4 the first down conv before its norm
(2 ngf, H x W: the stride-1 conv, the blur comes at 7); 8 the second down conv before its norm
(4 ngf, H/2 x W/2); 12 the output of residual block 1 and 16 of residual block 5 (4 ngf, H/4 x W/4).
Without ``antialias`` the same indices are 0 the padded input, 4 the first stride-2 conv (2 ngf,
H/2), 8 the second down norm (4 ngf, H/4), 12 and 16 the outputs of blocks 3 and 7: the indices
mean what the reference's do for each layout, which is what its options give.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
import torch.nn as nn

from translate.nets.antialias import BlurDownsample, BlurUpsample
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


class EncoderFeatures(Protocol):
    """A generator whose intermediate activations a feature loss can read (PatchNCE)."""

    def encode(self, x: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        """(B, C, H, W) input -> the outputs of ``layers`` (ascending indices), one (B, C_i, H_i, W_i) each."""
        ...


class ResnetGenerator(nn.Module):
    """Encoder (2 downsamplings) -> ``n_blocks`` residual blocks -> decoder, tanh output.

    Maps (B, input_nc, H, W) in [-1, 1] to (B, output_nc, H, W) in [-1, 1]; H and W must be
    multiples of 4 for the output to have the input's size. Parameter names reproduce the
    official CycleGAN checkpoints, so their ``.pth`` files load with ``strict=True``; with
    ``antialias`` / ``antialias_up`` (blurred down- / up-sampling) they reproduce the CUT
    reference's checkpoints instead (module docstring).
    """

    def __init__(
        self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, norm: str = "instance",
        use_dropout: bool = False, n_blocks: int = 9, padding_type: str = "reflect",
        antialias: bool = False, antialias_up: bool = False,
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
            if antialias:
                model += [nn.Conv2d(c, c * 2, 3, stride=1, padding=1, bias=bias), norm_layer(norm, c * 2),
                          nn.ReLU(True), BlurDownsample(c * 2)]
            else:
                model += [nn.Conv2d(c, c * 2, 3, stride=2, padding=1, bias=bias), norm_layer(norm, c * 2),
                          nn.ReLU(True)]
        c = ngf * 2**n_down
        model += [ResnetBlock(c, padding_type, norm, use_dropout) for _ in range(n_blocks)]
        for i in range(n_down):
            c = ngf * 2 ** (n_down - i)
            if antialias_up:
                model += [BlurUpsample(c), nn.Conv2d(c, c // 2, 3, stride=1, padding=1, bias=bias),
                          norm_layer(norm, c // 2), nn.ReLU(True)]
            else:
                model += [
                    nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                    norm_layer(norm, c // 2), nn.ReLU(True),
                ]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def encode(self, x: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
        """The outputs of ``model[i]`` for each ``i`` in ``layers`` (ascending, distinct), running
        ``model`` only as far as the last one: (B, input_nc, H, W) -> list of (B, C_i, H_i, W_i).

        The reference's ``netG(x, layers, encode_only=True)``; the module docstring says what
        CUT's default indices are in each layout.
        """
        layers = list(layers)
        if not layers or layers != sorted(set(layers)) or layers[0] < 0 or layers[-1] >= len(self.model):
            raise ValueError(f"layers must be distinct ascending indices into model (0..{len(self.model) - 1}), "
                             f"got {layers}")
        feats = []
        for index, layer in enumerate(self.model[: layers[-1] + 1]):
            x = layer(x)
            if index in layers:
                feats.append(x)
        return feats
