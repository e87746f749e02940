"""pix2pix through `translate train pix2pix` on real facades with tiny nets, plus its loss pieces."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch

from tests.train.recipes import _formulas as ref
from translate.cli import main
from translate.nets.build import build_generator, load_generator_state
from translate.train.losses import GANLoss
from translate.train.recipes import get_recipe
from translate.train.recipes._gan import discriminator_loss
from translate.train.trainer import seed_everything

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
FACADES = DATA / "paired" / "facades_mini"
needs_data = pytest.mark.skipif(not FACADES.is_dir(), reason="real images in ../shared/data are not available")

TINY = ["--netG", "unet_32", "--ngf", "8", "--ndf", "8", "--load-size", "36", "--crop-size", "32",
        "--workers", "0", "--print-every", "1", "--seed", "1"]


def tiny_config(**overrides):
    Config = get_recipe("pix2pix").Config
    return Config(data=str(FACADES), out="unused", netG="unet_32", ngf=8, ndf=8, load_size=36, crop_size=32,
                  workers=0, seed=1, **overrides)


def random_batch(size: int = 32, batch: int = 2) -> dict:
    g = torch.Generator().manual_seed(0)
    return {"A": torch.rand(batch, 3, size, size, generator=g) * 2 - 1,
            "B": torch.rand(batch, 3, size, size, generator=g) * 2 - 1}


@needs_data
def test_train_writes_log_sheet_and_loadable_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    rc = main(["train", "pix2pix", "--data", str(FACADES), "--out", str(run), "--max-iters", "3",
               "--sample-every", "2", "--direction", "BtoA", *TINY])
    assert rc == 0, capsys.readouterr().err

    records = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [1, 2, 3]
    for r in records:
        for key in ("G_GAN", "G_L1", "D_real", "D_fake"):
            assert torch.isfinite(torch.tensor(r[key])), r
    assert records[0]["lr_G"] == pytest.approx(2e-4)

    sheet = cv2.imread(str(run / "samples" / "iter_000002.png"))
    assert sheet.shape == (32, 3 * 32, 3)  # input | output | target for one batch item
    assert (run / "samples" / "iter_000003.png").is_file()  # a sheet for the final iteration too

    ckpt = torch.load(run / "checkpoints" / "latest.pt", weights_only=True)
    assert ckpt["format"] == "translate-checkpoint" and ckpt["version"] == 1 and ckpt["recipe"] == "pix2pix"
    assert ckpt["iteration"] == 3 and ckpt["config"]["direction"] == "BtoA"
    assert set(ckpt["nets"]) == {"G", "D"} and set(ckpt["optimizers"]) == {"G", "D"}
    assert json.loads((run / "config.json").read_text()) == ckpt["config"]
    card = ckpt["cards"]["G"]
    assert card["task"] == "pix2pix" and card["direction"] == "BtoA" and card["name"] == "run:run"
    assert card["generator"] == {"arch": "unet_32", "input_nc": 3, "output_nc": 3, "ngf": 8, "norm": "batch",
                                 "use_dropout": True}
    assert card["multiple"] == 32 and card["licence"] == "user-trained"
    assert not any(k.startswith("module.") for k in ckpt["nets"]["G"])

    # the card alone rebuilds the generator, which loads strictly and differs from its initialisation
    G = load_generator_state(build_generator(**card["generator"]), ckpt["nets"]["G"], "unet_32")
    seed_everything(1)
    initial = get_recipe("pix2pix")(tiny_config(direction="BtoA"), torch.device("cpu"), "x").nets["G"]
    changed = [k for k, v in G.state_dict().items() if v.is_floating_point()
               and not torch.equal(v, initial.state_dict()[k])]
    assert len(changed) > 10


def test_gradient_penalty_changes_discriminator_gradients():
    recipe = get_recipe("pix2pix")(tiny_config(gan_mode="wgangp"), torch.device("cpu"), "x")
    D = recipe.nets["D"]
    batch = random_batch()
    real = torch.cat([batch["A"], batch["B"]], 1)
    fake = torch.cat([batch["A"], batch["B"].flip(-1)], 1)

    def d_grads(lambda_gp: float) -> tuple[torch.Tensor, dict]:
        D.zero_grad()
        torch.manual_seed(0)
        loss, parts = discriminator_loss(GANLoss("wgangp"), D, real, fake, lambda_gp)
        loss.backward()
        return torch.cat([p.grad.flatten() for p in D.parameters()]), parts

    without, parts0 = d_grads(0.0)
    with_gp, parts = d_grads(10.0)
    assert parts["gp"] > 0 and parts0["gp"] == 0
    assert not torch.allclose(without, with_gp)
    losses = recipe.train_step(batch)
    assert "D_gp" in losses and losses["D_gp"] > 0


@pytest.mark.parametrize("gan_mode", ["vanilla", "lsgan", "hinge", "wgangp"])
def test_train_step_updates_both_nets_in_every_gan_mode(gan_mode):
    recipe = get_recipe("pix2pix")(tiny_config(gan_mode=gan_mode), torch.device("cpu"), "x")
    before = {k: [p.detach().clone() for p in net.parameters()] for k, net in recipe.nets.items()}
    losses = recipe.train_step(random_batch())
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    for k, net in recipe.nets.items():
        assert any(not torch.equal(a, b) for a, b in zip(before[k], net.parameters())), k
        assert all(p.requires_grad for p in net.parameters())  # D is unfrozen again after the G step
    assert [t.shape for t in recipe.sample({})] == [(2, 3, 32, 32)] * 3


@needs_data
def test_bad_options_are_one_line_errors(tmp_path, capsys):
    cases = [
        (["--data", str(tmp_path / "missing")], "dataset folder not found"),
        (["--data", str(FACADES), "--load-size", "32", "--crop-size", "64"], "--crop-size 64 is larger than"),
        (["--data", str(FACADES), "--netG", "unet_256", "--crop-size", "128"], "multiple of 256"),
        (["--data", str(FACADES), "--netG", "vgg"], "unknown --netG"),
    ]
    for args, message in cases:
        rc = main(["train", "pix2pix", "--out", str(tmp_path / "run"), *args])
        err = capsys.readouterr().err
        assert rc == 2 and message in err, err
        assert err.count("\n") == 1 and err.startswith("translate: error: ")
    assert not (tmp_path / "run" / "checkpoints").exists()
    rc = main(["train", "pix2pix", "--out", str(tmp_path / "run")])
    assert rc == 2 and "--data DIR is required" in capsys.readouterr().err


@needs_data
def test_existing_run_is_refused_and_resume_guards_options(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "pix2pix", "--data", str(FACADES), "--out", str(run), "--max-iters", "1", *TINY]) == 0
    capsys.readouterr()
    assert main(["train", "pix2pix", "--data", str(FACADES), "--out", str(run), *TINY]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", "pix2pix", "--resume", str(run), "--lr", "0.1"]) == 2
    assert "cannot change --lr" in capsys.readouterr().err
    assert main(["train", "cyclegan", "--resume", str(run)]) == 2
    assert "trains 'pix2pix'" in capsys.readouterr().err


@pytest.mark.parametrize("name,sample,max_mb", [("facades-label2photo", "docs/samples/facade_labels.png", 15),
                                                ("shoes-edges2photo", "docs/samples/shoe_edges.png", 15),
                                                ("facades-cyclegan-label2photo", "docs/samples/facade_labels.png", 2)])
def test_shipped_translators_are_small_and_paint_their_drawn_sample(name, sample, max_mb):
    """The shipped translator files stay small (pix2pix U-Nets <= 15 MB, the CycleGAN ResNet <= 2 MB)
    and turn our drawn line art / label map into a picture: not a copy of the input, not a flat
    colour (a collapsed generator paints one colour everywhere)."""
    import translate
    from translate.imageio import read_image, to_uint
    from translate.models.cards import lookup

    root = Path(__file__).resolve().parents[3]
    card = lookup(name)
    assert card is not None and (root / card.file).stat().st_size <= max_mb * 2**20
    source = to_uint(read_image(root / sample).rgb)
    out = translate.load(name, device="cpu")(source)
    assert out.shape == source.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - source).mean() > 20  # it translated, it did not copy
    assert out.reshape(-1, 3).std(axis=0).mean() > 20  # structure, not one flat colour


# --- what train_step computes, pinned to the formulas (issue #22) -------------------------------
# A U-Net 64 (one dropout level) and a PatchGAN on a fixed 2x3x64x64 batch; the reference values
# are computed here from copies of the nets taken before the step (D after its own step for G's
# GAN term, since D is updated first), with the dropout RNG seeded identically.

one_thread_only = pytest.mark.usefixtures("one_thread")

STEP_SEED = 123


@pytest.fixture(scope="module")
def stepped():
    torch.manual_seed(0)
    Config = get_recipe("pix2pix").Config
    config = Config(data="unused", out="unused", netG="unet_64", ngf=8, ndf=8, load_size=64, crop_size=64, workers=0)
    recipe = get_recipe("pix2pix")(config, torch.device("cpu"), "x")
    ref.in_float64(recipe)
    batch = {k: v.double() for k, v in random_batch(size=64).items()}
    before = ref.snapshot(recipe.nets)
    recorded = {k: ref.record_gradients(o) for k, o in recipe.optimizers.items()}
    torch.manual_seed(STEP_SEED)
    with ref.single_thread():
        losses = recipe.train_step(batch)
    return SimpleNamespace(recipe=recipe, batch=batch, before=before, after=ref.snapshot(recipe.nets),
                           losses=losses, grads={k: v[0] for k, v in recorded.items()},
                           steps={k: len(v) for k, v in recorded.items()})


def _fake_B(s) -> tuple[torch.nn.Module, torch.Tensor]:
    """G before the step and its output on A, with the step's dropout masks."""
    G = copy.deepcopy(s.before["G"])
    torch.manual_seed(STEP_SEED)
    return G, G(s.batch["A"])


@one_thread_only
def test_reference_defaults_vanilla_gan_l1_weight_100_adam_2e4_beta_05():
    config = get_recipe("pix2pix").Config(data="x", out="y")
    assert (config.gan_mode, config.lambda_L1, config.lr, config.beta1, config.pool_size) == \
        ("vanilla", 100.0, 2e-4, 0.5, 0)


@one_thread_only
def test_generator_l1_is_lambda_100_times_mean_abs_difference_to_the_target(stepped):
    _, fake_B = _fake_B(stepped)
    want = 100 * ref.l1(fake_B, stepped.batch["B"])
    assert stepped.losses["G_L1"] == pytest.approx(want.item(), rel=1e-9)


@one_thread_only
def test_generator_gan_is_bce_of_the_updated_discriminator_on_input_and_output_as_real(stepped):
    _, fake_B = _fake_B(stepped)
    D = stepped.after["D"]  # D has taken its step before G's
    want = ref.bce_real(D(torch.cat([stepped.batch["A"], fake_B], 1)))
    assert stepped.losses["G_GAN"] == pytest.approx(want.item(), rel=1e-9)


@one_thread_only
def test_discriminator_losses_are_bce_real_pair_as_1_and_fake_pair_as_0(stepped):
    _, fake_B = _fake_B(stepped)
    A, B, D = stepped.batch["A"], stepped.batch["B"], stepped.before["D"]
    assert stepped.losses["D_real"] == pytest.approx(ref.bce_real(D(torch.cat([A, B], 1))).item(), rel=1e-9)
    assert stepped.losses["D_fake"] == pytest.approx(ref.bce_fake(D(torch.cat([A, fake_B.detach()], 1))).item(),
                                                     rel=1e-9)


@one_thread_only
def test_generator_gradient_is_that_of_gan_plus_lambda_l1_to_the_target(stepped):
    G, fake_B = _fake_B(stepped)
    D = copy.deepcopy(stepped.after["D"])
    gan = ref.bce_real(D(torch.cat([stepped.batch["A"], fake_B], 1)))
    l1 = 100 * ref.l1(fake_B, stepped.batch["B"])
    p = ref.params(G)
    ref.assert_gradients_match(stepped.grads["G"], ref.grads(gan + l1, p),
                               {"G_GAN": ref.grads(gan, p), "G_L1": ref.grads(l1, p)}, "G")


@one_thread_only
def test_discriminator_gradient_is_that_of_half_real_plus_fake_with_the_fake_detached(stepped):
    _, fake_B = _fake_B(stepped)
    A, B, D = stepped.batch["A"], stepped.batch["B"], copy.deepcopy(stepped.before["D"])
    real = ref.bce_real(D(torch.cat([A, B], 1)))
    fake = ref.bce_fake(D(torch.cat([A, fake_B.detach()], 1)))
    p = ref.params(D)
    ref.assert_gradients_match(stepped.grads["D"], ref.grads(0.5 * (real + fake), p),
                               {"D_real": ref.grads(real, p), "D_fake": ref.grads(fake, p)}, "D")


@one_thread_only
def test_each_net_takes_one_adam_step_of_lr_2e4_on_its_own_gradient(stepped):
    ref.assert_each_net_took_one_adam_step(stepped, {"G": 2e-4, "D": 2e-4})
