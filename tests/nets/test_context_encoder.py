"""The context encoder: 128x128 image + mask in, full 128x128 image out, 4000-channel code."""

import pytest
import torch

from translate.nets.build import build_generator
from translate.nets.context_encoder import ContextEncoder

TINY = {"ngf": 4, "max_channels": 16, "bottleneck": 40, "bottleneck_groups": 4}


def test_shapes_range_and_bottleneck():
    net = build_generator("context_encoder", **TINY).eval()
    assert isinstance(net, ContextEncoder)
    x = torch.cat([torch.rand(2, 3, 128, 128) * 2 - 1, torch.zeros(2, 1, 128, 128)], 1)
    y = net(x)
    assert y.shape == (2, 3, 128, 128) and y.abs().max() <= 1
    assert net.encoder(x).shape == (2, 40, 1, 1)


def test_default_code_has_4000_channels_and_fits_10_mb():
    net = ContextEncoder().eval()
    assert net.encoder(torch.zeros(1, 4, 128, 128)).shape == (1, 4000, 1, 1)
    assert sum(p.numel() for p in net.parameters()) * 4 < 10e6


def test_hole_content_is_never_seen():
    torch.manual_seed(0)
    net = ContextEncoder(**TINY).eval()
    image = torch.rand(1, 3, 128, 128) * 2 - 1
    mask = torch.zeros(1, 1, 128, 128)
    mask[..., 32:96, 32:96] = 1
    other = image.clone()
    other[..., 32:96, 32:96] = 1.0  # e.g. a hole painted white
    with torch.no_grad():
        a = net(torch.cat([image, mask], 1))
        b = net(torch.cat([other, mask], 1))
        c = net(torch.cat([other, torch.zeros_like(mask)], 1))
    assert torch.equal(a, b)
    assert not torch.equal(b, c)


def test_wrong_input_size_is_a_value_error():
    net = ContextEncoder(**TINY)
    with pytest.raises(ValueError, match="128, 128"):
        net(torch.zeros(1, 4, 64, 64))
    with pytest.raises(ValueError, match="image \\+ mask"):
        net(torch.zeros(1, 3, 128, 128))
