"""DiffAugment: each op differentiable and as the policy says, pairs kept aligned, real and fake
augmented alike in both steps, identity when off, and exact resume with it on."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import translate.train.diffaugment as diffaugment
from translate.cli import main
from translate.errors import TranslateError
from translate.train.diffaugment import OPS, diff_augment, parse_policy
from translate.train.recipes import get_recipe
from translate.train.runlog import read_log
from translate.train.trainer import train
from tests.train.test_trainer import assert_same_state, checkpoint, options

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="real images in ../shared/data are not available")


def images(batch: int = 4, channels: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_policy_parsing():
    assert parse_policy("cutout, color") == ("color", "cutout")  # applied in the paper's order
    assert parse_policy("") == ()
    with pytest.raises(TranslateError, match="unknown part 'flip'"):
        parse_policy("color,flip")


def test_off_is_the_identity_and_draws_nothing():
    x = images()
    state = torch.get_rng_state()
    assert diff_augment(x, ()) is x
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.parametrize("op", OPS)
def test_gradients_flow_through_each_op(op):
    x = images().requires_grad_(True)
    y = diff_augment(x, (op,))
    assert y.shape == x.shape and y.requires_grad
    (y * torch.randn_like(y)).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_brightness_of_a_flat_grey_image_moves_by_at_most_a_half():
    # saturation and contrast leave a flat grey image alone: only the brightness shift remains
    x = torch.zeros(64, 3, 8, 8)
    y = diff_augment(x, ("color",))
    shifts = y[:, 0, 0, 0]
    assert torch.allclose(y, shifts.view(-1, 1, 1, 1).expand_as(y), atol=1e-6)
    assert shifts.abs().max() <= 0.5 and shifts.std() > 0.1


def test_translation_shifts_by_at_most_an_eighth_with_zero_padding():
    x = torch.ones(32, 1, 32, 32)
    y = diff_augment(x, ("translation",))
    for item in y[:, 0]:
        rows, cols = item.sum(1), item.sum(0)  # ones per row / column: the shifted square
        assert set(item.unique().tolist()) <= {0.0, 1.0}
        assert 32 - (rows > 0).sum() <= 4 and 32 - (cols > 0).sum() <= 4
    assert (y == 0).any()  # some items did move


def test_cutout_zeroes_a_square_of_at_most_half_the_size():
    x = torch.ones(32, 3, 32, 32)
    y = diff_augment(x, ("cutout",))
    for item in y:
        zero = item[0] == 0
        assert torch.equal(zero, (item == 0).all(0))  # every channel cut at the same place
        assert 0 < zero.sum() <= 16 * 16
        rows, cols = zero.any(1).nonzero(), zero.any(0).nonzero()
        assert zero.sum() == (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)  # one rectangle


@pytest.mark.parametrize("groups", [(3, 3), (1, 3)])
def test_stacked_images_of_a_pair_get_one_transform(groups):
    # a gray image and its RGB copy, or an RGB image twice: the two halves must stay identical
    gray = images(channels=1)
    first = gray if groups[0] == 1 else gray.repeat(1, 3, 1, 1)
    y = diff_augment(torch.cat([first, gray.repeat(1, 3, 1, 1)], 1), OPS, groups)
    a, b = y[:, :groups[0]], y[:, groups[0]:]
    assert torch.allclose(a.expand_as(b), b, atol=1e-6)
    with pytest.raises(ValueError, match="do not add up"):
        diff_augment(images(channels=6), OPS, (3, 2))


def _spy(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []
    real = diffaugment.diff_augment

    def spy(x, policy, groups=None):
        calls.append((tuple(x.shape), tuple(policy), groups))
        return real(x, policy, groups)

    monkeypatch.setattr(diffaugment, "diff_augment", spy)
    return calls


def _tiny(recipe: str, **overrides):
    Config = get_recipe(recipe).Config
    config = Config(data="unused", out="unused", netG="unet_32" if recipe == "pix2pix" else "resnet_2blocks",
                    ngf=8, ndf=8, crop_size=32, load_size=36, workers=0, **overrides)
    torch.manual_seed(0)
    return get_recipe(recipe)(config, torch.device("cpu"), "x")


@pytest.mark.parametrize("gan_mode", ["vanilla", "wgangp"])
def test_pix2pix_augments_every_pair_d_sees_in_both_steps(monkeypatch, gan_mode):
    calls = _spy(monkeypatch)
    recipe = _tiny("pix2pix", diffaugment="color,translation,cutout", gan_mode=gan_mode)
    x = images(batch=2)
    recipe.train_step({"A": x, "B": images(batch=2, seed=1)})
    # D step: real pair, fake pair (+ the gradient penalty's mixes); G step: the fake pair again
    assert len(calls) == (4 if gan_mode == "wgangp" else 3)
    assert set(calls) == {((2, 6, 32, 32), OPS, (3, 3))}


def test_cyclegan_augments_real_and_fake_for_both_discriminators(monkeypatch):
    calls = _spy(monkeypatch)
    recipe = _tiny("cyclegan", diffaugment="translation")
    recipe.train_step({"A": images(batch=1), "B": images(batch=1, seed=1)})
    assert len(calls) == 6  # G step: D_A(fake_B), D_B(fake_A); D step: real and fake for each D
    assert set(calls) == {((1, 3, 32, 32), ("translation",), None)}


def test_off_calls_d_directly(monkeypatch):
    calls = _spy(monkeypatch)
    _tiny("pix2pix").train_step({"A": images(batch=1), "B": images(batch=1, seed=1)})
    assert calls == []


@needs_data
def test_training_with_it_on_real_images_changes_the_result(tmp_path):
    base = options("pix2pix", tmp_path / "off", max_iters=3)
    off = checkpoint(train("pix2pix", base).run_dir)
    on = checkpoint(train("pix2pix", {**base, "out": str(tmp_path / "on"),
                                      "diffaugment": "color,translation,cutout"}).run_dir)
    for net in ("G", "D"):
        assert any(not torch.equal(v, on["nets"][net][k]) for k, v in off["nets"][net].items()), net
    assert set(on["nets"]["D"]) == set(off["nets"]["D"])  # the saved D is the bare network


@needs_data
@pytest.mark.parametrize("recipe", ["pix2pix", "cyclegan"])
def test_resume_continues_exactly_with_diffaugment_and_health_checks(tmp_path, recipe):
    extra = {"diffaugment": "color,translation,cutout", "health_every": 1}
    whole = train(recipe, options(recipe, tmp_path / "whole", max_iters=5, **extra))
    train(recipe, options(recipe, tmp_path / "part", max_iters=3, **extra))
    resumed = train(recipe, {"max_iters": 5}, resume=tmp_path / "part")
    assert_same_state(checkpoint(whole.run_dir), checkpoint(resumed.run_dir))

    def logged(run: Path) -> list[dict]:
        return [{k: v for k, v in r.items() if k != "time"} for r in read_log(run / "losses.jsonl")]

    assert logged(tmp_path / "part") == logged(whole.run_dir)


@needs_data
def test_bad_policy_is_a_one_line_error(tmp_path, capsys):
    args = ["train", "pix2pix", "--data", str(DATA / "paired" / "facades_mini"), "--out", str(tmp_path / "r"),
            "--diffaugment", "colour"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown part 'colour'" in err
