"""`translate train derain`: a few steps on real pairs + synthetic rain, the VGG switch, the model card."""

import copy
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tests.train.recipes import _formulas as ref
from translate.errors import TranslateError
from translate.nets.vgg import VGG19_FILE
from translate.run.inference import load
from translate.train.recipes import get_recipe
from translate.train.trainer import Trainer

TINY = {"ngf": 4, "growth": 4, "layers_per_block": 1, "levels": 2, "ndf": 4, "n_layers_D": 1, "num_D": 2,
        "crop_size": 16, "batch_size": 2, "workers": 0, "device": "cpu", "lambda_perceptual": 0.0}


def run(tmp_path, shared_data, **kw):
    cls = get_recipe("derain")
    config = cls.Config(data=str(shared_data / "derain" / "RainTrainH_mini"), out=str(tmp_path / "run"),
                        synthetic_rain=str(shared_data / "sr" / "Set5"), **{**TINY, **kw})
    config.validate()
    return Trainer(cls, config)


def test_a_few_steps_change_the_generator(tmp_path, shared_data):
    trainer = run(tmp_path, shared_data, max_iters=2, pair_repeat=2)
    assert len(trainer.dataset) == 12 * 2 + 5
    before = copy.deepcopy(trainer.recipe.nets["G"].state_dict())
    result = trainer.run()
    assert all(math.isfinite(v) for v in result.losses.values())
    assert {"G_MSE", "G_GAN", "D_real", "D_fake"} <= set(result.losses)
    after = trainer.recipe.nets["G"].state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # the checkpoint runs as a de-raining model on any size (padded to the multiple 4)
    translator = load(str(result.checkpoint), device="cpu")
    assert translator.card.task == "derain" and translator.card.multiple == 4
    image = (np.random.default_rng(0).random((21, 30, 3)) * 255).astype(np.uint8)
    assert translator(image).shape == image.shape


def test_perceptual_weight_needs_vgg_weights(tmp_path, shared_data):
    from translate.nets.vgg import vgg19_weights_path

    if vgg19_weights_path().is_file():
        pytest.skip("VGG19 weights are cached here; the missing-weights path cannot be tested")
    with pytest.raises(TranslateError, match="VGG19"):
        run(tmp_path, shared_data, lambda_perceptual=1.0)
    trainer = run(tmp_path, shared_data, lambda_perceptual=None)  # auto: falls back to 0 with a warning
    assert trainer.recipe.vgg is None and trainer.recipe.lambda_perceptual == 0.0


def test_bad_options(shared_data):
    cls = get_recipe("derain")
    with pytest.raises(TranslateError, match="multiple of 2\\*\\*levels"):
        cls.Config(data="x", out="y", crop_size=36, levels=3).validate()
    with pytest.raises(TranslateError, match="--light-fraction"):
        cls.Config(data="x", out="y", light_fraction=2.0).validate()


def test_shipped_derain_model_is_small_and_runs():
    from translate.models.cards import SHIPPED_WEIGHTS

    path = SHIPPED_WEIGHTS / "derain.safetensors"
    if not path.is_file():
        pytest.skip("weights/derain.safetensors is not shipped")
    assert path.stat().st_size <= 10e6
    translator = load("derain", device="cpu")
    assert translator.card.task == "derain" and translator.card.generator["arch"] == "derain"
    image = (np.random.default_rng(1).random((35, 42, 3)) * 255).astype(np.uint8)
    assert translator(image).shape == image.shape


# --- what train_step computes, pinned to the formulas (issue #22) -------------------------------
# A tiny dense generator (its zero-initialised output conv given small random weights, so that
# every layer gets a gradient) and a 2-scale PatchGAN on a fixed 2x3x32x32 rainy / clean batch in
# [-1, 1]; random VGG19 weights up to relu2_2 in a temporary torchvision cache, with
# --lambda-perceptual left unset (auto: 1 when the weights are there). Defaults of the paper:
# 1 x pixel MSE + 1 x VGG relu2_2 MSE + 6.6e-3 x GAN (vanilla), averaged over D's scales.

one_thread_only = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def stepped(tmp_path_factory):
    torch_home = tmp_path_factory.mktemp("torch")
    vgg = ref.fake_vgg19_weights(torch_home / "hub" / "checkpoints" / VGG19_FILE, layers=9)
    Recipe = get_recipe("derain")
    tiny = {k: v for k, v in TINY.items() if k not in ("lambda_perceptual", "crop_size")}
    config = Recipe.Config(data="unused", out="unused", crop_size=32, **tiny)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(torch_home))
        torch.manual_seed(0)
        recipe = Recipe(config, torch.device("cpu"), "x")
    ref.in_float64(recipe)
    with torch.no_grad():
        for p in recipe.nets["G"].tail.parameters():
            p.normal_(0, 0.05)
    g = torch.Generator().manual_seed(4)
    clean = torch.rand(2, 3, 32, 32, generator=g, dtype=torch.float64) * 2 - 1
    rainy = (clean + 0.5 * torch.rand(2, 3, 32, 32, generator=g, dtype=torch.float64)).clamp(-1, 1)
    before = ref.snapshot(recipe.nets)
    recorded = {k: ref.record_gradients(o) for k, o in recipe.optimizers.items()}
    with ref.single_thread():
        losses = recipe.train_step({"A": rainy, "B": clean})
    return SimpleNamespace(recipe=recipe, rainy=rainy, clean=clean, vgg=vgg, before=before,
                           after=ref.snapshot(recipe.nets), losses=losses, grads={k: v[0] for k, v in recorded.items()},
                           steps={k: len(v) for k, v in recorded.items()})


def _g_terms(s) -> tuple[dict[str, torch.Tensor], torch.nn.Module]:
    G = copy.deepcopy(s.before["G"])
    fake = G(s.rainy)
    D = copy.deepcopy(s.after["D"])  # D takes its step before G's
    terms = {
        "G_MSE": 1.0 * ref.mse(fake, s.clean),
        "G_VGG": 1.0 * ref.mse(ref.vgg19_features((fake + 1) / 2, s.vgg, "relu2_2"),
                               ref.vgg19_features((s.clean + 1) / 2, s.vgg, "relu2_2")),
        "G_GAN": 6.6e-3 * ref.over_scales(ref.bce_real, D(torch.cat([s.rainy, fake], 1))),
    }
    return terms, G


def test_reference_defaults_mse_1_vgg_auto_gan_6_6e3_vanilla_adam_2e4_beta_05():
    config = get_recipe("derain").Config(data="x", out="y")
    assert (config.lambda_pixel, config.lambda_perceptual, config.lambda_adv, config.gan_mode, config.lr,
            config.beta1) == (1.0, None, 6.6e-3, "vanilla", 2e-4, 0.5)


@one_thread_only
def test_pixel_loss_is_mse_of_G_of_rainy_to_clean(stepped):
    terms, _ = _g_terms(stepped)
    assert stepped.losses["G_MSE"] == pytest.approx(terms["G_MSE"].item(), rel=1e-9)


@one_thread_only
def test_perceptual_loss_is_mse_of_vgg_relu2_2_features_of_output_and_clean_in_0_1(stepped):
    terms, _ = _g_terms(stepped)
    assert stepped.recipe.lambda_perceptual == 1.0
    assert stepped.losses["G_VGG"] == pytest.approx(terms["G_VGG"].item(), rel=1e-9)


@one_thread_only
def test_adversarial_loss_is_6_6e3_times_bce_of_the_updated_multiscale_D_on_the_rainy_output_pair(stepped):
    terms, _ = _g_terms(stepped)
    assert stepped.losses["G_GAN"] == pytest.approx(terms["G_GAN"].item(), rel=1e-9)


@one_thread_only
def test_discriminator_losses_are_bce_over_scales_on_rainy_clean_as_real_and_rainy_output_as_fake(stepped):
    s = stepped
    fake = copy.deepcopy(s.before["G"])(s.rainy).detach()
    D = copy.deepcopy(s.before["D"])
    want_real = ref.over_scales(ref.bce_real, D(torch.cat([s.rainy, s.clean], 1)))
    want_fake = ref.over_scales(ref.bce_fake, D(torch.cat([s.rainy, fake], 1)))
    assert s.losses["D_real"] == pytest.approx(want_real.item(), rel=1e-9)
    assert s.losses["D_fake"] == pytest.approx(want_fake.item(), rel=1e-9)


@one_thread_only
def test_generator_gradient_is_that_of_mse_plus_perceptual_plus_adversarial(stepped):
    terms, G = _g_terms(stepped)
    p = ref.params(G)
    ref.assert_gradients_match(stepped.grads["G"], ref.grads(sum(terms.values()), p),
                               {k: ref.grads(v, p) for k, v in terms.items()}, "G")


@one_thread_only
def test_discriminator_gradient_is_that_of_half_real_plus_fake(stepped):
    s = stepped
    fake = copy.deepcopy(s.before["G"])(s.rainy).detach()
    D = copy.deepcopy(s.before["D"])
    real = ref.over_scales(ref.bce_real, D(torch.cat([s.rainy, s.clean], 1)))
    fake = ref.over_scales(ref.bce_fake, D(torch.cat([s.rainy, fake], 1)))
    p = ref.params(D)
    ref.assert_gradients_match(s.grads["D"], ref.grads(0.5 * (real + fake), p),
                               {"D_real": ref.grads(real, p), "D_fake": ref.grads(fake, p)}, "D")


@one_thread_only
def test_each_net_takes_one_adam_step_of_lr_2e4_on_its_own_gradient(stepped):
    ref.assert_each_net_took_one_adam_step(stepped, {"G": 2e-4, "D": 2e-4})
