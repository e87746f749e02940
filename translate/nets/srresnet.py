"""SRResNet (Ledig et al. 2017, the SRGAN generator) and the SRGAN VGG-style discriminator.

The generator follows the paper: Conv9 + PReLU; ``num_blocks`` residual blocks
[Conv3, (BN), PReLU, Conv3, (BN)] + skip; Conv3 + (BN) + long skip; upsampling by sub-pixel
convolution (x2 / x4: stages of [Conv -> 4 C, PixelShuffle(2), PReLU]; x3: [Conv -> 9 C,
PixelShuffle(3), PReLU]); Conv9 to the output channels. ``norm="none"`` drops the batch norms
(as MSRResNet / EDSR: trains better, no train/eval difference, cleaner ONNX export) and is our
default. ``upsample_skip`` adds the bicubic (or bilinear) upsampled input to the output, so the
network only learns the residual detail: at the start of training the output is already the
interpolated image, which makes short CPU trainings reach a given PSNR several times sooner.
Inputs and outputs are RGB in [0, 1] (model card mean 0, std 1).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

SCALES = (2, 3, 4, 8)
NORMS = ("none", "batch")
UPSAMPLE_SKIPS = ("bicubic", "bilinear", "none")


def _norm(norm: str, channels: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")


class SRResidualBlock(nn.Module):
    """[Conv3, Norm, PReLU, Conv3, Norm] + identity skip; (B, C, H, W) -> (B, C, H, W).

    Without batch norm the residual branch is scaled by ``res_scale`` (EDSR) for stability.
    """

    def __init__(self, num_feat: int, norm: str = "none", res_scale: float = 1.0):
        super().__init__()
        bias = norm != "batch"
        self.body = nn.Sequential(
            nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=bias), _norm(norm, num_feat), nn.PReLU(num_feat),
            nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=bias), _norm(norm, num_feat),
        )
        self.res_scale = float(res_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale if self.res_scale != 1.0 else x + self.body(x)


class SRResNet(nn.Module):
    """SRResNet generator: (B, input_nc, H, W) in [0, 1] -> (B, output_nc, scale H, scale W).

    ``scale`` 2, 3, 4 or 8; ``num_blocks`` residual blocks of ``num_feat`` channels; ``norm``
    ``"none"`` (default, MSRResNet-like) or ``"batch"`` (the paper); ``upsample_skip``
    ``"bicubic"`` / ``"bilinear"`` adds the interpolated input to the output (residual learning),
    ``"none"`` is the paper's plain output. Any H, W work (size multiple 1).
    """

    def __init__(self, scale: int = 4, num_blocks: int = 16, num_feat: int = 64, norm: str = "none",
                 input_nc: int = 3, output_nc: int = 3, upsample_skip: str = "bicubic", head_kernel: int = 9,
                 res_scale: float = 1.0):
        super().__init__()
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if upsample_skip not in UPSAMPLE_SKIPS:
            raise ValueError(f"upsample_skip must be one of {UPSAMPLE_SKIPS}, got {upsample_skip!r}")
        if upsample_skip != "none" and input_nc != output_nc:
            raise ValueError(f"upsample_skip needs input_nc == output_nc, got {input_nc} and {output_nc}")
        if num_blocks < 0 or num_feat < 1 or head_kernel % 2 == 0:
            raise ValueError(f"bad sizes: num_blocks {num_blocks}, num_feat {num_feat}, head_kernel {head_kernel}")
        self.scale = scale
        self.upsample_skip = upsample_skip
        pad = head_kernel // 2
        self.head = nn.Sequential(nn.Conv2d(input_nc, num_feat, head_kernel, 1, pad), nn.PReLU(num_feat))
        self.body = nn.Sequential(*[SRResidualBlock(num_feat, norm, res_scale) for _ in range(num_blocks)])
        self.body_tail = nn.Sequential(nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=norm != "batch"),
                                       _norm(norm, num_feat))
        stages: list[nn.Module] = []
        factors = [3] if scale == 3 else [2] * (scale.bit_length() - 1)
        for f in factors:
            stages += [nn.Conv2d(num_feat, num_feat * f * f, 3, 1, 1), nn.PixelShuffle(f), nn.PReLU(num_feat)]
        self.upsample = nn.Sequential(*stages)
        self.tail = nn.Conv2d(num_feat, output_nc, head_kernel, 1, pad)
        self.skip = FixedUpsample(scale, upsample_skip, input_nc) if upsample_skip != "none" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.head(x)
        feat = feat + self.body_tail(self.body(feat))
        out = self.tail(self.upsample(feat))
        return out if self.skip is None else out + self.skip(x)


class FixedUpsample(nn.Module):
    """``F.interpolate(x, scale_factor=scale, mode=mode, align_corners=False)`` (``bicubic`` or
    ``bilinear``) as one grouped 5x5 convolution of the edge-padded input followed by
    PixelShuffle, (B, C, H, W) -> (B, C, H * scale, W * scale).

    Each output phase (p, q) of the ``scale x scale`` grid is a fixed separable filter over the
    5x5 input neighbourhood (the interpolation's taps never reach further for scales 2-8), and
    edge padding reproduces interpolate's clamped border indices, so the numbers are the same to
    float rounding. The point is the export: onnxruntime's cubic Resize took 18% of sr-x4's time
    on the CPU, a small convolution and DepthToSpace almost nothing. The filters are computed
    from ``F.interpolate`` itself (impulse responses), not re-derived.
    """

    def __init__(self, scale: int, mode: str, channels: int):
        super().__init__()
        if mode not in ("bicubic", "bilinear"):
            raise ValueError(f"mode must be bicubic or bilinear, got {mode!r}")
        self.scale, self.channels = scale, channels
        taps, centre, length = 5, 8, 18
        kernel = torch.zeros(scale, taps, dtype=torch.float64)  # kernel[p, m]: weight of x[i + m - 2] in y[s*i + p]
        for m in range(taps):
            impulse = torch.zeros(1, 1, 1, length, dtype=torch.float64)
            impulse[..., centre + m - 2] = 1.0
            response = F.interpolate(impulse, scale_factor=scale, mode=mode, align_corners=False)[0, 0, 0]
            kernel[:, m] = response[scale * centre:scale * centre + scale]
        phases = torch.einsum("pm,qn->pqmn", kernel, kernel).reshape(scale * scale, 1, taps, taps)
        self.register_buffer("weight", phases.repeat(channels, 1, 1, 1).float(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(x, (2, 2, 2, 2), mode="replicate")
        return F.pixel_shuffle(F.conv2d(padded, self.weight.to(x.dtype), groups=self.channels), self.scale)


class VGGStyleDiscriminator(nn.Module):
    """The SRGAN discriminator: (B, in_nc, H, W) -> (B, 1) logits, for H, W >= 16.

    Eight 3x3 convs 64 -> 512 channels, stride 2 every second one, LeakyReLU 0.2 and batch norm
    (not after the first conv); then global average pooling (so any size >= 16 works, unlike
    the paper's fixed dense layer), Dense 1024 (as 1x1 conv), LeakyReLU, Dense 1.
    """

    def __init__(self, in_nc: int = 3, num_feat: int = 64):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_nc, num_feat, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True)]
        channels = num_feat
        plan = [(num_feat, 2), (num_feat * 2, 1), (num_feat * 2, 2), (num_feat * 4, 1), (num_feat * 4, 2),
                (num_feat * 8, 1), (num_feat * 8, 2)]
        for out_ch, stride in plan:
            layers += [nn.Conv2d(channels, out_ch, 3, stride, 1, bias=False), nn.BatchNorm2d(out_ch),
                       nn.LeakyReLU(0.2, inplace=True)]
            channels = out_ch
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(channels, num_feat * 16, 1),
                                        nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(num_feat * 16, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x)).flatten(1)


def build_srresnet(scale: int = 4, num_blocks: int = 16, num_feat: int = 64, norm: str = "none",
                   input_nc: int = 3, output_nc: int = 3, upsample_skip: str = "bicubic", **kw) -> SRResNet:
    """:class:`SRResNet` from a model card's generator kwargs (``multiple`` is ignored: it is
    the card's size multiple, 1 for this net)."""
    kw.pop("multiple", None)
    return SRResNet(scale=scale, num_blocks=num_blocks, num_feat=num_feat, norm=norm, input_nc=input_nc, output_nc=output_nc,
                    upsample_skip=upsample_skip, **kw)
