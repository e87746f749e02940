"""`translate train inpaint`: a few steps on real images, the masked loss, and `translate run inpaint`."""

import copy
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from translate.cli import main
from translate.errors import TranslateError
from translate.imageio import read_image
from translate.run.inference import load
from translate.train.recipes import get_recipe
from translate.train.recipes.inpaint import loss_weights, masked_l2
from translate.train.trainer import Trainer, train

from tests.helpers import random_image, write_png
from tests.train.recipes import _formulas as ref

TINY = {"ngf": 4, "max_channels": 8, "bottleneck": 16, "bottleneck_groups": 4, "ndf": 4, "n_layers_D": 1,
        "batch_size": 2, "workers": 0, "device": "cpu"}


def test_loss_weights_hole_and_overlap_band():
    mask = torch.zeros(1, 1, 20, 20)
    mask[..., 8:12, 8:12] = 1
    w = loss_weights(mask, 4, 10.0)
    assert w[0, 0, 10, 10] == 1 and w[0, 0, 4, 4] == 10 and w[0, 0, 10, 4] == 10
    assert w[0, 0, 3, 10] == 0 and w[0, 0, 0, 0] == 0
    out, target = torch.zeros(1, 3, 20, 20), torch.ones(1, 3, 20, 20)
    assert masked_l2(out, target, mask) == 1.0  # averaged over hole pixels only


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_data_module):
    cls = get_recipe("inpaint")
    out = tmp_path_factory.mktemp("inpaint") / "run"
    config = cls.Config(data=str(shared_data_module / "sr" / "Set5"), out=str(out), max_iters=2, precise_bn=3, **TINY)
    config.validate()
    trainer = Trainer(cls, config)
    before = copy.deepcopy(trainer.recipe.nets["G"].state_dict())
    result = trainer.run()
    return trainer, before, result


@pytest.fixture(scope="module")
def shared_data_module():
    from tests.conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-image folder {SHARED_DATA} not present")
    return SHARED_DATA


def test_a_few_steps_change_the_generator(trained):
    trainer, before, result = trained
    assert all(math.isfinite(v) for v in result.losses.values()) and "G_L2" in result.losses
    after = trainer.recipe.nets["G"].state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point())
    lrs = trainer.recipe.learning_rates()
    assert lrs["G"] == pytest.approx(10 * lrs["D"])


def test_precise_bn_statistics_in_the_checkpoint(trained):
    trainer, _, result = trained
    saved = torch.load(result.checkpoint, weights_only=True)["nets"]["G"]
    live = trainer.recipe.nets["G"].state_dict()
    counts = [k for k in saved if k.endswith("num_batches_tracked")]
    assert counts and all(int(saved[k]) == 3 and int(live[k]) == 2 for k in counts)  # 3 batches vs 2 steps
    means = [k for k in saved if k.endswith("running_mean")]
    assert any(not torch.equal(saved[k], live[k]) for k in means)


@pytest.mark.parametrize("size", [(50, 70), (128, 128), (300, 200)])
def test_fill_keeps_known_pixels_at_any_size(trained, size):
    translator = load(str(trained[2].checkpoint), device="cpu")
    image = random_image(*size, seed=1)
    hole = np.zeros(size, bool)
    hole[10:30, size[1] - 25:size[1] - 2] = True  # touches the right border
    hole[size[0] // 2:size[0] // 2 + 8, 5:15] = True
    out = translator(image, mask=hole)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[~hole], image[~hole])
    assert not np.array_equal(out[hole], image[hole])


def test_run_command_and_bad_inputs(trained, tmp_path, capsys):
    model = str(trained[2].checkpoint)
    src = write_png(tmp_path / "img.png", random_image(90, 100, seed=2))
    mask = np.zeros((90, 100), np.uint8)
    mask[30:60, 40:70] = 255
    mask_path = write_png(tmp_path / "mask.png", mask)
    assert main(["run", model, str(src), "--mask", str(mask_path), "-o", str(tmp_path / "out.png")]) == 0
    out = read_image(tmp_path / "out.png").rgb
    assert np.array_equal(out[mask == 0], read_image(src).rgb[mask == 0])

    assert main(["run", model, str(src), "-o", str(tmp_path / "x.png")]) == 2
    assert "inpainting model: give the hole with --mask" in capsys.readouterr().err
    other = write_png(tmp_path / "other.png", np.zeros((20, 20), np.uint8))
    assert main(["run", model, str(src), "--mask", str(other), "-o", str(tmp_path / "x.png")]) == 1
    assert "20x20 but the image is 100x90" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
    gray = write_png(tmp_path / "gray.png", random_image(90, 100, c=1))
    translator = load(model, device="cpu")
    with pytest.raises(TranslateError, match="1-channel"):
        translator.translate_file(gray, tmp_path / "g.png", mask=mask_path)
    with pytest.raises(TranslateError, match="20x20 but the image is 100x90"):
        translator.translate_file(src, tmp_path / "g.png", mask=other)
    with pytest.raises(TranslateError, match="--mask"):
        translator(random_image(90, 100))
    with pytest.raises(TranslateError, match="no such file"):
        translator.translate_file(src, tmp_path / "g.png", mask=tmp_path / "missing.png")


def test_shipped_inpaint_model_is_small_and_keeps_known_pixels():
    from translate.models.cards import SHIPPED_WEIGHTS

    path = SHIPPED_WEIGHTS / "inpaint.safetensors"
    if not path.is_file():
        pytest.skip("weights/inpaint.safetensors is not shipped")
    assert path.stat().st_size <= 10e6
    translator = load("inpaint", device="cpu")
    assert translator.card.task == "inpaint" and translator.card.generator["bottleneck"] == 4000
    image = random_image(140, 150, seed=3)
    hole = np.zeros((140, 150), bool)
    hole[40:90, 50:100] = True
    out = translator(image, mask=hole)
    assert np.array_equal(out[~hole], image[~hole]) and not np.array_equal(out[hole], image[hole])


def test_run_a_folder_with_a_folder_of_masks(trained, tmp_path):
    photos, masks = tmp_path / "photos", tmp_path / "masks"
    photos.mkdir()
    masks.mkdir()
    for i, size in enumerate([(64, 80), (130, 90)]):
        write_png(photos / f"p{i}.png", random_image(*size, seed=i))
        m = np.zeros(size, np.uint8)
        m[10:20, 10:30] = 255
        write_png(masks / f"p{i}.png", m)
    out = tmp_path / "out"
    assert main(["run", str(trained[2].checkpoint), str(photos), "--mask", str(masks), "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["p0_latest.png", "p1_latest.png"]
    (masks / "p1.png").unlink()
    from translate.commands.run import plan_masks

    with pytest.raises(TranslateError, match="no mask named like p1.png"):
        plan_masks(sorted(photos.iterdir()), str(masks))


def test_an_epoch_ending_in_one_image_still_trains(tmp_path, shared_data_module):
    # 5 images, batch 2: the third batch would hold one image, which the 1x1 bottleneck's batch
    # norm cannot normalise; the trainer completes it with the epoch's first image
    result = train("inpaint", {**TINY, "data": str(shared_data_module / "sr" / "Set5"), "out": str(tmp_path / "run"),
                               "max_iters": 3, "print_every": 1, "save_every": 100})
    assert result.iteration == 3 and result.epoch == 1
    with pytest.raises(TranslateError, match="--batch-size must be >= 2"):
        train("inpaint", {**TINY, "batch_size": 1, "data": str(shared_data_module / "sr" / "Set5"),
                          "out": str(tmp_path / "one")})


# --- what train_step computes, pinned to the formulas (issue #22) -------------------------------
# A tiny context encoder and PatchGAN on a fixed 2x3x128x128 batch with one rectangular hole per
# image (the second touches the top and right borders, which clip its overlap band). The hole
# weights are written out here with slices: 1 in the hole, 10 on the 4-px band of context around
# it (the paper's overlap), 0 elsewhere; the L2 is averaged over the weighted pixels. References
# use copies of the nets taken before the step (D after its own step for G's GAN term).

one_thread_only = pytest.mark.usefixtures("one_thread")

HOLES = [(40, 72, 50, 90), (0, 20, 100, 128)]  # (top, bottom, left, right) per image


def _hole_weights() -> tuple[torch.Tensor, torch.Tensor]:
    """(2, 1, 128, 128) masks (1 = hole) and loss weights: 1 in the hole, 10 within 4 px around it."""
    mask, weights = torch.zeros(2, 1, 128, 128, dtype=torch.float64), torch.zeros(2, 1, 128, 128, dtype=torch.float64)
    for i, (t, b, l, r) in enumerate(HOLES):
        weights[i, :, max(t - 4, 0):b + 4, max(l - 4, 0):r + 4] = 10.0
        weights[i, :, t:b, l:r] = 1.0
        mask[i, :, t:b, l:r] = 1.0
    return mask, weights


@pytest.fixture(scope="module")
def stepped():
    Recipe = get_recipe("inpaint")
    config = Recipe.Config(data="unused", out="unused", **{k: v for k, v in TINY.items() if k != "device"})
    torch.manual_seed(0)
    recipe = Recipe(config, torch.device("cpu"), "x")
    ref.in_float64(recipe)
    g = torch.Generator().manual_seed(5)
    real = torch.rand(2, 3, 128, 128, generator=g, dtype=torch.float64) * 2 - 1
    mask, weights = _hole_weights()
    before = ref.snapshot(recipe.nets)
    recorded = {k: ref.record_gradients(o) for k, o in recipe.optimizers.items()}
    with ref.single_thread():
        losses = recipe.train_step({"A": real, "M": mask})
    return SimpleNamespace(recipe=recipe, real=real, mask=mask, weights=weights, before=before,
                           after=ref.snapshot(recipe.nets), losses=losses, grads={k: v[0] for k, v in recorded.items()},
                           steps={k: len(v) for k, v in recorded.items()})


def _g_terms(s) -> tuple[dict[str, torch.Tensor], torch.nn.Module, torch.Tensor]:
    G = copy.deepcopy(s.before["G"])
    output = G(torch.cat([s.real, s.mask], 1))
    composite = s.real * (1 - s.mask) + output * s.mask
    weighted_pixels = (s.weights > 0).sum() * 3
    terms = {
        "G_L2": 0.999 * (s.weights * (output - s.real) ** 2).sum() / weighted_pixels,
        "G_GAN": 0.001 * ref.bce_real(copy.deepcopy(s.after["D"])(composite)),
    }
    return terms, G, composite


def test_reference_defaults_l2_0_999_gan_0_001_overlap_4_px_weight_10_d_lr_a_tenth():
    config = get_recipe("inpaint").Config(data="x", out="y")
    assert (config.lambda_rec, config.lambda_adv, config.overlap, config.overlap_weight, config.lr_d_ratio,
            config.gan_mode, config.beta1) == (0.999, 0.001, 4, 10.0, 0.1, "vanilla", 0.5)


@one_thread_only
def test_reconstruction_is_0_999_times_l2_on_the_hole_and_10x_on_its_4_px_context_band(stepped):
    terms, _, _ = _g_terms(stepped)
    assert stepped.losses["G_L2"] == pytest.approx(terms["G_L2"].item(), rel=1e-9)


@one_thread_only
def test_adversarial_loss_is_0_001_times_bce_of_the_updated_D_on_the_composite_as_real(stepped):
    terms, _, _ = _g_terms(stepped)
    assert stepped.losses["G_GAN"] == pytest.approx(terms["G_GAN"].item(), rel=1e-9)


@one_thread_only
def test_discriminator_losses_are_bce_real_image_as_1_and_composite_as_0(stepped):
    _, _, composite = _g_terms(stepped)
    D = copy.deepcopy(stepped.before["D"])
    assert stepped.losses["D_real"] == pytest.approx(ref.bce_real(D(stepped.real)).item(), rel=1e-9)
    assert stepped.losses["D_fake"] == pytest.approx(ref.bce_fake(D(composite.detach())).item(), rel=1e-9)


@one_thread_only
def test_generator_gradient_is_that_of_reconstruction_plus_adversarial(stepped):
    terms, G, _ = _g_terms(stepped)
    p = ref.params(G)
    ref.assert_gradients_match(stepped.grads["G"], ref.grads(sum(terms.values()), p),
                               {k: ref.grads(v, p) for k, v in terms.items()}, "G")


@one_thread_only
def test_discriminator_gradient_is_that_of_half_real_plus_fake(stepped):
    _, _, composite = _g_terms(stepped)
    D = copy.deepcopy(stepped.before["D"])
    real, fake = ref.bce_real(D(stepped.real)), ref.bce_fake(D(composite.detach()))
    p = ref.params(D)
    ref.assert_gradients_match(stepped.grads["D"], ref.grads(0.5 * (real + fake), p),
                               {"D_real": ref.grads(real, p), "D_fake": ref.grads(fake, p)}, "D")


@one_thread_only
def test_G_takes_one_adam_step_of_lr_2e4_and_D_of_2e5(stepped):
    ref.assert_each_net_took_one_adam_step(stepped, {"G": 2e-4, "D": 2e-5})
