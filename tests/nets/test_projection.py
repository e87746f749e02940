"""The projection head's row normalisation (translate.nets.projection.l2_normalize)."""

from __future__ import annotations

import torch

from translate.nets.projection import l2_normalize


def reference_normalize(x: torch.Tensor) -> torch.Tensor:
    """The reference's ``Normalize(2)`` (models/networks.py), written out."""
    return x.div(x.pow(2).sum(1, keepdim=True).pow(1.0 / 2) + 1e-7)


def test_rows_are_the_reference_values_and_an_all_zero_row_has_a_finite_gradient():
    torch.manual_seed(0)
    x = torch.randn(5, 8, dtype=torch.float64)
    x[2] = 0.0  # what a narrow encoder's ReLU output gives at some positions
    ours = x.clone().requires_grad_()
    theirs = x.clone().requires_grad_()
    out, ref = l2_normalize(ours), reference_normalize(theirs)
    torch.testing.assert_close(out, ref, rtol=1e-15, atol=0)
    assert torch.equal(out[2], torch.zeros(8, dtype=torch.float64))
    weights = torch.randn(5, 8, dtype=torch.float64)
    (out * weights).sum().backward()
    (ref * weights).sum().backward()
    assert torch.isfinite(ours.grad).all()
    assert torch.isnan(theirs.grad[2]).all()  # why the formula is not written as the reference's
    keep = [0, 1, 3, 4]
    torch.testing.assert_close(ours.grad[keep], theirs.grad[keep], rtol=1e-12, atol=0)
