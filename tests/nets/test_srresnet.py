"""SRResNet generator and SRGAN discriminator: shapes, sub-pixel upsampling, the bicubic skip."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from translate.errors import TranslateError
from translate.nets.build import build_generator
from translate.nets.srresnet import SRResNet, VGGStyleDiscriminator


@pytest.mark.parametrize("scale,shuffles", [(2, [2]), (3, [3]), (4, [2, 2])])
def test_output_is_scale_times_input_with_pixel_shuffle_stages(scale, shuffles):
    net = build_generator("srresnet", scale=scale, num_blocks=2, num_feat=8)
    y = net(torch.rand(2, 3, 11, 7))  # odd sizes: the net needs no size multiple
    assert y.shape == (2, 3, 11 * scale, 7 * scale)
    assert [m.upscale_factor for m in net.modules() if isinstance(m, nn.PixelShuffle)] == shuffles


def test_paper_layout_with_batch_norm_and_plain_output():
    net = SRResNet(scale=4, num_blocks=16, num_feat=64, norm="batch", upsample_skip="none")
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) == 2 * 16 + 1
    assert net.head[0].kernel_size == (9, 9) and net.tail.kernel_size == (9, 9)
    assert net.upsample[0].out_channels == 256
    assert not any(isinstance(m, nn.BatchNorm2d) for m in SRResNet(num_blocks=2, num_feat=8).modules())


def test_bicubic_skip_makes_a_zero_tail_output_the_interpolated_input():
    net = SRResNet(scale=4, num_blocks=1, num_feat=8, upsample_skip="bicubic", head_kernel=3)
    nn.init.zeros_(net.tail.weight)
    nn.init.zeros_(net.tail.bias)
    x = torch.rand(1, 3, 6, 5)
    expected = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
    torch.testing.assert_close(net(x), expected)


def test_bad_options():
    with pytest.raises(ValueError, match="scale"):
        SRResNet(scale=5)
    with pytest.raises(ValueError, match="norm"):
        SRResNet(norm="instance")
    with pytest.raises(TranslateError, match="srresnet"):
        build_generator("srresnet", num_filters=3)


def test_discriminator_gives_one_logit_per_image_at_any_size():
    d = VGGStyleDiscriminator(3, num_feat=8)
    assert d(torch.rand(2, 3, 32, 32)).shape == (2, 1)
    assert d(torch.rand(1, 3, 48, 40)).shape == (1, 1)


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
@pytest.mark.parametrize("scale", [2, 3, 4, 8])
def test_fixed_upsample_is_interpolate(mode, scale):
    # the skip path as a convolution + PixelShuffle (fast in onnxruntime) computes F.interpolate
    from translate.nets.srresnet import FixedUpsample

    x = torch.rand(2, 3, 13, 17)
    expected = torch.nn.functional.interpolate(x, scale_factor=scale, mode=mode, align_corners=False)
    torch.testing.assert_close(FixedUpsample(scale, mode, 3)(x), expected, atol=2e-6, rtol=0)
    assert not FixedUpsample(scale, mode, 3).state_dict()  # no new keys in checkpoints
