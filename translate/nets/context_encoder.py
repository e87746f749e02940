"""Context encoder (Pathak et al. 2016) for inpainting 128x128 images.

Input: the image in the network's value range plus the hole mask as a last channel (1 inside the
hole); the network itself fills the hole with the mean pixel (0, the middle of [-1, 1]) first, so
whatever the caller left in the hole is never seen. Strided 4x4 convolutions bring
128x128 down to 4x4, a 4x4 convolution reaches a ``bottleneck``-channel 1x1 code (4000 in the
paper), and up-convolutions come back to the full 128x128 image, Tanh. The full image (rather
than only the paper's 64x64 centre patch) is predicted so that holes of any shape and place
(random blocks, strokes, mask files) work with the same network; the loss looks only at the
hole and a thin band of context around it, and callers composite known pixels back.

Size: the paper's dense 4x4 conv from 512 channels to 4000 alone holds 33 M weights (131 MB).
Here the bottleneck convolution and its mirror are grouped (``bottleneck_groups``), which keeps
4000 channels in the code while the whole net stays under 10 MB at ``ngf=32``.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from translate.nets.architectures import GENERATORS
from translate.nets.layers import conv_bias, norm_layer

IMAGE_SIZE = GENERATORS["context_encoder"].fixed_size  # the one input side (128), from the table


class ContextEncoder(nn.Module):
    """(B, input_nc + 1, 128, 128) image + mask (1 = hole) -> (B, output_nc, 128, 128) in [-1, 1].

    ``ngf`` filters in the first layer, doubling per layer up to ``max_channels``; five stride-2
    4x4 convs (128 -> 4), a 4x4 valid conv to (B, ``bottleneck``, 1, 1), a 4x4 up-conv back to
    4x4, five stride-2 4x4 up-convs to 128x128, Tanh. LeakyReLU(0.2) in the encoder, ReLU in
    the decoder, ``norm`` (batch by default, as the paper) after every inner layer.
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 32, max_channels: int = 128,
                 bottleneck: int = 4000, bottleneck_groups: int = 32, norm: str = "batch"):
        super().__init__()
        if ngf < 1 or max_channels < ngf or bottleneck < 1 or bottleneck_groups < 1:
            raise ValueError("need ngf >= 1, max_channels >= ngf, bottleneck >= 1, bottleneck_groups >= 1")
        widths = [min(ngf * 2 ** i, max_channels) for i in range(5)]  # after each of the 5 downs
        deepest = widths[-1]
        groups = math.gcd(math.gcd(deepest, bottleneck), bottleneck_groups)
        bias = conv_bias(norm)
        enc: list[nn.Module] = [nn.Conv2d(input_nc + 1, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
        for cin, cout in zip(widths, widths[1:]):
            enc += [nn.Conv2d(cin, cout, 4, 2, 1, bias=bias), norm_layer(norm, cout), nn.LeakyReLU(0.2, True)]
        enc += [nn.Conv2d(deepest, bottleneck, 4, 1, 0, bias=bias, groups=groups), norm_layer(norm, bottleneck),
                nn.LeakyReLU(0.2, True)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.ConvTranspose2d(bottleneck, deepest, 4, 1, 0, bias=bias, groups=groups),
                                norm_layer(norm, deepest), nn.ReLU(True)]
        rev = widths[::-1]
        for cin, cout in zip(rev, rev[1:]):
            dec += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=bias), norm_layer(norm, cout), nn.ReLU(True)]
        dec += [nn.ConvTranspose2d(widths[0], output_nc, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)
        self.input_nc = input_nc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.input_nc + 1 or tuple(x.shape[-2:]) != (IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(f"expected (B, {self.input_nc + 1}, {IMAGE_SIZE}, {IMAGE_SIZE}) (image + mask), "
                             f"got {tuple(x.shape)}")
        image, mask = x[:, :self.input_nc], x[:, self.input_nc:]
        filled = image * (1 - mask)  # the mean pixel, 0, in the hole
        return self.decoder(self.encoder(torch.cat([filled, mask], 1)))

