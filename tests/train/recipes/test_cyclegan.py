"""CycleGAN through `translate train cyclegan` on real horse/zebra photos with tiny nets."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import pytest
import torch

from tests.train.recipes import _formulas as ref
from translate.cli import main
from translate.nets.build import build_generator, load_generator_state
from translate.train.recipes import get_recipe
from translate.train.trainer import seed_everything

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
HORSES = DATA / "unpaired" / "horse2zebra_mini"
needs_data = pytest.mark.skipif(not HORSES.is_dir(), reason="real images in ../shared/data are not available")

TINY = ["--netG", "resnet_2blocks", "--ngf", "8", "--ndf", "8", "--load-size", "36", "--crop-size", "32",
        "--workers", "0", "--print-every", "1", "--seed", "2", "--pool-size", "2"]


def tiny_recipe(**overrides):
    Recipe = get_recipe("cyclegan")
    config = Recipe.Config(data=str(HORSES), out="unused", netG="resnet_2blocks", ngf=8, ndf=8, load_size=36,
                           crop_size=32, workers=0, seed=2, pool_size=2, **overrides)
    return Recipe(config, torch.device("cpu"), "x")


@needs_data
def test_train_writes_log_sheet_and_loadable_checkpoint(tmp_path, capsys):
    run = tmp_path / "h2z"
    rc = main(["train", "cyclegan", "--data", str(HORSES), "--out", str(run), "--max-iters", "3", *TINY])
    assert rc == 0, capsys.readouterr().err

    records = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [1, 2, 3]
    names = ("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "D_B")
    assert all(torch.isfinite(torch.tensor([r[k] for k in names])).all() for r in records)

    sheet = cv2.imread(str(run / "samples" / "iter_000003.png"))
    assert sheet.shape == (32, 6 * 32, 3)  # real_A | fake_B | rec_A | real_B | fake_A | rec_B

    ckpt = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ckpt["recipe"] == "cyclegan" and ckpt["iteration"] == 3
    assert set(ckpt["nets"]) == {"G_A", "G_B", "D_A", "D_B"} and set(ckpt["optimizers"]) == {"G", "D"}
    assert len(ckpt["pools"]["A"]["images"]) == 2 and ckpt["pools"]["B"]["pool_size"] == 2
    assert {k: c["direction"] for k, c in ckpt["cards"].items()} == {"G_A": "AtoB", "G_B": "BtoA"}
    card = ckpt["cards"]["G_A"]
    assert card["task"] == "cyclegan" and card["multiple"] == 4 and card["source"] == "translate train cyclegan"
    assert card["generator"] == {"arch": "resnet_2blocks", "input_nc": 3, "output_nc": 3, "ngf": 8,
                                 "norm": "instance", "use_dropout": False, "padding_type": "reflect"}

    seed_everything(2)
    initial = tiny_recipe().nets
    for name in ("G_A", "G_B"):
        G = load_generator_state(build_generator(**ckpt["cards"][name]["generator"]), ckpt["nets"][name], name)
        assert any(not torch.equal(v, initial[name].state_dict()[k]) for k, v in G.state_dict().items())
        out = G.eval()(torch.zeros(1, 3, 32, 32))
        assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()


def test_generator_step_leaves_discriminators_to_their_own_step():
    recipe = tiny_recipe(lambda_identity=0.0)
    batch = {"A": torch.rand(1, 3, 32, 32) * 2 - 1, "B": torch.rand(1, 3, 32, 32) * 2 - 1}
    # with a zero D learning rate the D step changes nothing, so any change to D would have
    # come from the G step (it must not: D is frozen there and has its own optimiser)
    for group in recipe.optimizers["D"].param_groups:
        group["lr"] = 0.0
    before = {k: [p.detach().clone() for p in recipe.nets[k].parameters()] for k in recipe.nets}
    losses = recipe.train_step(batch)
    assert set(losses) == {"G_A", "G_B", "cycle_A", "cycle_B", "D_A", "D_B"}
    for name in ("D_A", "D_B"):
        assert all(torch.equal(a, b) for a, b in zip(before[name], recipe.nets[name].parameters()))
        assert all(p.requires_grad for p in recipe.nets[name].parameters())
    for name in ("G_A", "G_B"):
        assert any(not torch.equal(a, b) for a, b in zip(before[name], recipe.nets[name].parameters()))
    # the cycle loss is lambda * L1(G_B(G_A(A)), A), visible on the sheet
    real_A, fake_B, rec_A = recipe.sample(batch)[:3]
    assert losses["cycle_A"] == pytest.approx(10 * (rec_A - real_A).abs().mean().item(), rel=1e-5)


@needs_data
def test_identity_loss_needs_equal_channels(tmp_path, capsys):
    rc = main(["train", "cyclegan", "--data", str(HORSES), "--out", str(tmp_path / "r"), "--input-nc", "1", *TINY])
    assert rc == 2 and "--lambda-identity 0" in capsys.readouterr().err
    rc = main(["train", "cyclegan", "--data", str(HORSES / "trainA"), "--out", str(tmp_path / "r"), *TINY])
    err = capsys.readouterr().err
    assert rc == 2 and "trainA/ and trainB/" in err and err.count("\n") == 1


def test_shipped_cyclegan_is_a_labels_to_photo_cyclegan_painting_photo_colours():
    """The shipped unpaired translator is G_B of tools/ship/train_facades.sh cyclegan-long: its card says
    CycleGAN, labels -> photo (size, one-way refusal and "it translates" are checked with the other
    shipped translators), and it paints a drawn label map in a photo's colours."""
    import numpy as np

    import translate
    from translate.imageio import read_image, to_uint
    from translate.models.cards import lookup

    root = Path(__file__).resolve().parents[3]
    card = lookup("facades-cyclegan-label2photo")
    assert card is not None and card.task == "cyclegan" and card.direction == "BtoA"
    source = to_uint(read_image(root / "docs/samples/facade_labels.png").rgb)
    out = translate.load("facades-cyclegan-label2photo", device="cpu")(source)
    # a photo's colours, not the label palette's saturated blues: facades are beige / grey
    assert out[..., 2].mean() < source[..., 2].mean() - 40


# --- what train_step computes, pinned to the formulas (issue #22) -------------------------------
# ResNet-2 generators and PatchGANs (instance norm, no dropout: deterministic) on a fixed 2x3x32x32
# batch, default weights (LSGAN, cycle 10, identity 0.5 x 10) and a fresh pool of 50 (which hands
# the fresh fakes back until it is full). The references use copies of the nets taken before the
# step: G is updated before D, so both steps see the initial weights.

one_thread_only = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def stepped():
    torch.manual_seed(0)
    Recipe = get_recipe("cyclegan")
    config = Recipe.Config(data="unused", out="unused", netG="resnet_2blocks", ngf=8, ndf=8, load_size=32,
                           crop_size=32, workers=0)
    recipe = Recipe(config, torch.device("cpu"), "x")
    ref.in_float64(recipe)
    g = torch.Generator().manual_seed(1)
    batch = {"A": torch.rand(2, 3, 32, 32, generator=g, dtype=torch.float64) * 2 - 1,
             "B": torch.rand(2, 3, 32, 32, generator=g, dtype=torch.float64) * 2 - 1}
    before = ref.snapshot(recipe.nets)
    recorded = {k: ref.record_gradients(o) for k, o in recipe.optimizers.items()}
    with ref.single_thread():
        losses = recipe.train_step(batch)
    return SimpleNamespace(recipe=recipe, A=batch["A"], B=batch["B"], before=before, after=ref.snapshot(recipe.nets),
                           losses=losses, grads={k: v[0] for k, v in recorded.items()},
                           steps={k: len(v) for k, v in recorded.items()})


def _terms(s) -> tuple[dict[str, torch.Tensor], dict[str, torch.nn.Module]]:
    """The six generator loss terms from the paper on copies of the initial nets."""
    n = {k: copy.deepcopy(v) for k, v in s.before.items()}
    A, B = s.A, s.B
    fake_B, fake_A = n["G_A"](A), n["G_B"](B)
    terms = {
        "G_A": ref.ls_real(n["D_A"](fake_B)),
        "G_B": ref.ls_real(n["D_B"](fake_A)),
        "cycle_A": 10 * ref.l1(n["G_B"](fake_B), A),
        "cycle_B": 10 * ref.l1(n["G_A"](fake_A), B),
        "idt_A": 0.5 * 10 * ref.l1(n["G_A"](B), B),
        "idt_B": 0.5 * 10 * ref.l1(n["G_B"](A), A),
    }
    return terms, n


@one_thread_only
def test_reference_defaults_lsgan_cycle_10_identity_half_pool_50():
    config = get_recipe("cyclegan").Config(data="x", out="y")
    assert (config.gan_mode, config.lambda_cycle, config.lambda_identity, config.pool_size, config.lr,
            config.beta1) == ("lsgan", 10.0, 0.5, 50, 2e-4, 0.5)


@one_thread_only
def test_generator_gan_terms_are_lsgan_of_D_A_on_G_A_of_A_and_D_B_on_G_B_of_B(stepped):
    terms, _ = _terms(stepped)
    for k in ("G_A", "G_B"):
        assert stepped.losses[k] == pytest.approx(terms[k].item(), rel=1e-9), k


@one_thread_only
def test_cycle_A_is_lambda_times_mean_abs_G_B_of_G_A_of_A_minus_A(stepped):
    terms, _ = _terms(stepped)
    assert stepped.losses["cycle_A"] == pytest.approx(terms["cycle_A"].item(), rel=1e-9)


@one_thread_only
def test_cycle_B_is_lambda_times_mean_abs_G_A_of_G_B_of_B_minus_B(stepped):
    terms, _ = _terms(stepped)
    assert stepped.losses["cycle_B"] == pytest.approx(terms["cycle_B"].item(), rel=1e-9)


@one_thread_only
def test_identity_terms_are_half_lambda_times_mean_abs_G_A_of_B_minus_B_and_G_B_of_A_minus_A(stepped):
    terms, _ = _terms(stepped)
    assert stepped.losses["idt_A"] == pytest.approx(terms["idt_A"].item(), rel=1e-9)
    assert stepped.losses["idt_B"] == pytest.approx(terms["idt_B"].item(), rel=1e-9)


@one_thread_only
def test_discriminator_losses_are_half_lsgan_real_plus_fake_on_their_own_domain(stepped):
    n = {k: copy.deepcopy(v) for k, v in stepped.before.items()}
    fake_B, fake_A = n["G_A"](stepped.A).detach(), n["G_B"](stepped.B).detach()
    want_A = 0.5 * (ref.ls_real(n["D_A"](stepped.B)) + ref.ls_fake(n["D_A"](fake_B)))  # D_A judges B images
    want_B = 0.5 * (ref.ls_real(n["D_B"](stepped.A)) + ref.ls_fake(n["D_B"](fake_A)))  # D_B judges A images
    assert stepped.losses["D_A"] == pytest.approx(want_A.item(), rel=1e-9)
    assert stepped.losses["D_B"] == pytest.approx(want_B.item(), rel=1e-9)


@one_thread_only
def test_generators_gradient_is_that_of_both_gan_both_cycle_and_both_identity_terms(stepped):
    terms, n = _terms(stepped)
    p = ref.params(n["G_A"], n["G_B"])
    ref.assert_gradients_match(stepped.grads["G"], ref.grads(sum(terms.values()), p),
                               {k: ref.grads(v, p) for k, v in terms.items()}, "G_A + G_B")


@one_thread_only
def test_discriminators_gradient_is_that_of_half_real_plus_fake_each(stepped):
    n = {k: copy.deepcopy(v) for k, v in stepped.before.items()}
    fake_B, fake_A = n["G_A"](stepped.A).detach(), n["G_B"](stepped.B).detach()
    parts = {"D_A real": ref.ls_real(n["D_A"](stepped.B)), "D_A fake": ref.ls_fake(n["D_A"](fake_B)),
             "D_B real": ref.ls_real(n["D_B"](stepped.A)), "D_B fake": ref.ls_fake(n["D_B"](fake_A))}
    p = ref.params(n["D_A"], n["D_B"])
    ref.assert_gradients_match(stepped.grads["D"], ref.grads(0.5 * sum(parts.values()), p),
                               {k: ref.grads(v, p) for k, v in parts.items()}, "D_A + D_B")


@one_thread_only
def test_each_optimiser_takes_one_adam_step_of_lr_2e4_on_its_own_gradient(stepped):
    assert stepped.steps == {"G": 1, "D": 1}
    for opt, nets in (("G", ("G_A", "G_B")), ("D", ("D_A", "D_B"))):
        ref.assert_one_adam_step(ref.params(*(stepped.before[k] for k in nets)),
                                 ref.params(*(stepped.after[k] for k in nets)), stepped.grads[opt], 2e-4, opt)
