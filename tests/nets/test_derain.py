"""The ID-CGAN de-raining generator: residual (identity at start), dense blocks, size checks."""

import pytest
import torch

from translate.nets.build import build_generator
from translate.nets.derain import DenseBlock, DerainGenerator

TINY = {"ngf": 8, "growth": 4, "layers_per_block": 2, "levels": 2}


def test_identity_before_training_and_shape():
    net = build_generator("derain", **TINY)
    assert isinstance(net, DerainGenerator)
    x = torch.rand(2, 3, 32, 48) * 2 - 1
    assert torch.equal(net(x), x)  # the residual head starts at zero: clean pixels pass untouched


def test_one_step_learns_a_correction_that_depends_on_the_input():
    torch.manual_seed(0)
    net = DerainGenerator(**TINY)
    x, target = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), target).backward()
        opt.step()
    correction = net(x) - x
    assert correction.abs().max() > 0
    assert not torch.allclose(correction[0], correction[1])


def test_dense_block_grows_channels():
    block = DenseBlock(8, 3, 5, "none")
    assert block(torch.zeros(1, 8, 4, 4)).shape == (1, 8 + 15, 4, 4) and block.out_channels == 23


def test_bad_sizes_and_options():
    net = DerainGenerator(**TINY)
    with pytest.raises(ValueError, match="multiples of 4"):
        net(torch.zeros(1, 3, 30, 32))
    with pytest.raises(ValueError, match="input_nc == output_nc"):
        DerainGenerator(input_nc=3, output_nc=1)


def test_default_size_is_small():
    params = sum(p.numel() for p in DerainGenerator().parameters())
    assert params * 4 < 10e6  # shipped weights stay under 10 MB
