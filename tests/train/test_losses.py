import math

import pytest
import torch
import torch.nn as nn

from translate.train.losses import GANLoss, ImagePool, gradient_penalty


def test_gan_loss_values():
    zeros = torch.zeros(2, 1, 4, 4)
    assert math.isclose(GANLoss("vanilla")(zeros, True).item(), math.log(2), rel_tol=1e-6)
    assert GANLoss("lsgan")(torch.ones(3), True).item() == 0
    assert GANLoss("lsgan")(torch.ones(3), False).item() == 1
    hinge = GANLoss("hinge")
    assert hinge(torch.full((3,), 2.0), True).item() == 0
    assert hinge(torch.zeros(3), False).item() == 1
    assert hinge(torch.full((3,), 2.0), True, for_discriminator=False).item() == -2
    w = GANLoss("wgangp")
    assert w(torch.full((3,), 2.0), True).item() == -2 and w(torch.full((3,), 2.0), False).item() == 2
    # lists (multi-scale D) are averaged
    assert GANLoss("lsgan")([torch.ones(2), torch.zeros(2)], True).item() == 0.5
    with pytest.raises(ValueError):
        GANLoss("nonsense")


def test_gradient_penalty_is_exact_for_a_linear_critic_and_trains_it():
    critic = nn.Sequential(nn.Flatten(), nn.Linear(12, 1, bias=False))
    with torch.no_grad():
        critic[1].weight.fill_(0.5)  # ||grad|| = 0.5 * sqrt(12) for every input
    real, fake = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    gp = gradient_penalty(critic, real, fake, weight=10.0)
    expected = 10.0 * (0.5 * math.sqrt(12) - 1) ** 2
    assert math.isclose(gp.item(), expected, rel_tol=1e-5)
    gp.backward()
    assert critic[1].weight.grad is not None and critic[1].weight.grad.abs().sum() > 0


def test_image_pool_behaviour_and_state():
    assert ImagePool(0).query(torch.ones(2, 3, 4, 4)).equal(torch.ones(2, 3, 4, 4))
    torch.manual_seed(0)
    pool = ImagePool(2)
    first = pool.query(torch.zeros(2, 1, 2, 2))
    assert first.eq(0).all() and len(pool.images) == 2
    outs = torch.cat([pool.query(torch.full((1, 1, 2, 2), float(i))) for i in range(1, 40)])
    returned_old = (outs[:, 0, 0, 0] != torch.arange(1, 40).float()).sum().item()
    assert 5 < returned_old < 35  # about half come from the history
    restored = ImagePool(1)
    restored.load_state_dict(pool.state_dict())
    assert restored.pool_size == 2 and all(a.equal(b) for a, b in zip(restored.images, pool.images))
