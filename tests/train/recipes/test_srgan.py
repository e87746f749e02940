"""The srgan recipe: pixel-loss pretraining, then GAN fine-tuning from it, on real T91 images."""

import copy
import math
from types import SimpleNamespace

import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

from tests.helpers import random_image, write_png
from tests.train.recipes import _formulas as ref
from translate.cli import main
from translate.errors import TranslateError
from translate.imageio import read_image
from translate.models.checkpoint import read_checkpoint
from translate.models.loading import load_model
from translate.nets.build import build_generator
from translate.nets.vgg import VGG19_FILE
from translate.train.recipes import get_recipe
from translate.train.runlog import read_log
from translate.train.trainer import train

TINY = dict(scale=4, num_feat=8, num_blocks=1, head_kernel=3, patch_size=32, batch_size=2, workers=0, device="cpu",
            print_every=1, sample_every=100, save_every=100)


@pytest.fixture
def t91(shared_data):
    folder = shared_data / "sr" / "T91"
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    return folder


def _output(net: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return net.eval()(torch.linspace(0, 1, 3 * 8 * 8).reshape(1, 3, 8, 8))


def test_pretrain_then_gan_stage(t91, tmp_path, monkeypatch):
    pre = tmp_path / "pre"
    result = train("srgan", dict(TINY, data=str(t91), out=str(pre), max_iters=3))
    log = read_log(pre / "losses.jsonl")
    assert [r["iteration"] for r in log] == [1, 2, 3] and all(math.isfinite(r["G_pixel"]) for r in log)
    ckpt = read_checkpoint(result.checkpoint)
    assert set(ckpt["nets"]) == {"G"}
    card = ckpt["cards"]["G"]
    assert (card["task"], card["scale"], card["mean"], card["std"], card["multiple"]) == ("sr", 4, 0.0, 1.0, 1)
    torch.manual_seed(0)  # the trainer seeds torch before building the generator
    initial = build_generator(**card["generator"])
    pretrained, _ = load_model(str(pre))
    assert not torch.allclose(_output(initial), _output(pretrained))

    # `translate run` on the run folder upscales x4
    write_png(tmp_path / "small.png", random_image(10, 12))
    assert main(["run", str(pre), str(tmp_path / "small.png"), "-o", str(tmp_path / "big.png"), "--device", "cpu"]) == 0
    assert read_image(tmp_path / "big.png").rgb.shape == (40, 48, 3)

    # the GAN stage needs the VGG19 weights in torchvision's cache, and says where
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    gan = dict(TINY, data=str(t91), stage="gan", pretrained=str(pre), vgg_layer="relu1_2", ndf=8, max_iters=2)
    with pytest.raises(TranslateError, match=str(tmp_path / "torch" / "hub" / "checkpoints" / VGG19_FILE)):
        train("srgan", dict(gan, out=str(tmp_path / "nogan")))
    weights = tmp_path / "torch" / "hub" / "checkpoints" / VGG19_FILE
    weights.parent.mkdir(parents=True)
    torch.manual_seed(1)
    torch.save({f"features.{k}": v for k, v in make_layers(cfgs["E"])[:4].state_dict().items()}, weights)
    result = train("srgan", dict(gan, out=str(tmp_path / "gan")))
    log = read_log(tmp_path / "gan" / "losses.jsonl")
    assert {"G_content", "G_adv", "D_real", "D_fake"} <= set(log[-1])
    assert all(math.isfinite(v) for r in log for v in r.values() if isinstance(v, float))
    ckpt = read_checkpoint(result.checkpoint)
    assert set(ckpt["nets"]) == {"G", "D"} and "SRGAN" in ckpt["cards"]["G"]["description"]
    finetuned, _ = load_model(str(tmp_path / "gan"))
    assert not torch.allclose(_output(pretrained), _output(finetuned))


def test_config_errors(tmp_path, t91):
    with pytest.raises(TranslateError, match="--pretrained"):
        train("srgan", dict(TINY, data=str(t91), out=str(tmp_path / "a"), stage="gan"))
    with pytest.raises(TranslateError, match="patch-size"):
        train("srgan", dict(TINY, data=str(t91), out=str(tmp_path / "b"), patch_size=30))
    with pytest.raises(TranslateError, match="not found"):
        train("srgan", dict(TINY, data=f"{t91},{tmp_path / 'missing'}", out=str(tmp_path / "c")))


def test_pretrained_generator_must_match(tmp_path, t91):
    pre = tmp_path / "pre"
    train("srgan", dict(TINY, data=str(t91), out=str(pre), max_iters=1))
    with pytest.raises(TranslateError, match="differs from this run"):
        train("srgan", dict(TINY, data=str(t91), out=str(tmp_path / "gan"), num_feat=16, stage="gan",
                            pretrained=str(pre), max_iters=1))


def test_resume_with_a_longer_decay_applies_the_new_lr_at_once(tmp_path):
    data = tmp_path / "hr"
    data.mkdir()
    for i in range(2):
        write_png(data / f"{i}.png", random_image(32, 32, seed=i))
    run = tmp_path / "run"
    opts = dict(TINY, data=str(data), out=str(run), patch_size=16, lr=1e-3, epochs=1, epochs_decay=1)
    train("srgan", opts)  # 2 epochs of 1 iteration: the lr has decayed to 0
    assert [r["lr_G"] for r in read_log(run / "losses.jsonl")] == [1e-3, 5e-4]
    train("srgan", {"epochs_decay": 3}, resume=run)  # warm restart: epoch 3 of 1 + 3 has factor 1 - 2/4
    assert [r["lr_G"] for r in read_log(run / "losses.jsonl")][2:] == [5e-4, 2.5e-4]


# --- what train_step computes, pinned to the formulas (issue #22) -------------------------------
# A 1-block, 8-channel x4 SRResNet on a fixed 2x3x4x4 -> 2x3x16x16 batch in [0, 1]. The GAN stage
# gets random VGG19 weights for its first layers in a temporary torchvision cache and uses
# conv2_2 (before its ReLU, as BasicSR's conv5_4) for the content loss, weighted 2 (and the pixel
# loss 0.5) so that both weights are seen; the adversarial weight is the paper's 1e-3. References are
# computed here with copies of the nets taken before the step (D after its own step for G's
# adversarial term, since D is updated first) and a VGG written out with functional convs.

one_thread_only = pytest.mark.usefixtures("one_thread")

TINY_NETS = dict(scale=4, num_feat=8, num_blocks=1, head_kernel=3, patch_size=32, batch_size=2, workers=0)


def _sr_batch() -> dict:
    g = torch.Generator().manual_seed(3)
    return {"lr": torch.rand(2, 3, 4, 4, generator=g, dtype=torch.float64),
            "hr": torch.rand(2, 3, 16, 16, generator=g, dtype=torch.float64)}


def _step(recipe, batch) -> SimpleNamespace:
    ref.in_float64(recipe)
    before = ref.snapshot(recipe.nets)
    recorded = {k: ref.record_gradients(o) for k, o in recipe.optimizers.items()}
    with ref.single_thread():
        losses = recipe.train_step(batch)
    return SimpleNamespace(recipe=recipe, lr=batch["lr"], hr=batch["hr"], before=before,
                           after=ref.snapshot(recipe.nets), losses=losses,
                           grads={k: v[0] for k, v in recorded.items()}, steps={k: len(v) for k, v in recorded.items()})


@pytest.fixture(scope="module", params=["l1", "mse"])
def pretrained_step(request):
    torch.manual_seed(0)
    Recipe = get_recipe("srgan")
    recipe = Recipe(Recipe.Config(data="unused", out="unused", pixel_loss=request.param, **TINY_NETS),
                    torch.device("cpu"), "x")
    return request.param, _step(recipe, _sr_batch())


@pytest.fixture(scope="module")
def gan_step(tmp_path_factory):
    torch_home = tmp_path_factory.mktemp("torch")
    vgg = ref.fake_vgg19_weights(torch_home / "hub" / "checkpoints" / VGG19_FILE, layers=8)
    Recipe = get_recipe("srgan")
    # pretrained is left empty (validate() would ask for it) so the generator is the seeded random one
    config = Recipe.Config(data="unused", out="unused", stage="gan", vgg_layer="conv2_2", ndf=8, lambda_content=2.0,
                           lambda_pixel=0.5, **TINY_NETS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TORCH_HOME", str(torch_home))
        torch.manual_seed(0)
        recipe = Recipe(config, torch.device("cpu"), "x")
    s = _step(recipe, _sr_batch())
    s.vgg = vgg
    return s


def _pixel(kind: str, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return ref.l1(a, b) if kind == "l1" else ref.mse(a, b)


@one_thread_only
def test_reference_defaults_l1_pretraining_then_vgg_content_plus_1e3_vanilla_adversarial():
    config = get_recipe("srgan").Config(data="x", out="y")
    assert (config.stage, config.pixel_loss, config.lambda_content, config.lambda_adv, config.lambda_pixel,
            config.gan_mode, config.vgg_layer) == ("pretrain", "l1", 1.0, 1e-3, 0.0, "vanilla", "conv5_4")


@one_thread_only
def test_pretrain_pixel_loss_is_l1_or_mse_of_G_of_lr_to_hr(pretrained_step):
    kind, s = pretrained_step
    want = _pixel(kind, copy.deepcopy(s.before["G"])(s.lr), s.hr)
    assert set(s.losses) == {"G_pixel"}
    assert s.losses["G_pixel"] == pytest.approx(want.item(), rel=1e-9)


@one_thread_only
def test_pretrain_gradient_is_that_of_the_pixel_loss_and_one_adam_step_follows(pretrained_step):
    kind, s = pretrained_step
    G = copy.deepcopy(s.before["G"])
    ref.assert_gradients_match(s.grads["G"], ref.grads(_pixel(kind, G(s.lr), s.hr), ref.params(G)), what="G")
    assert s.steps == {"G": 1}
    ref.assert_one_adam_step(ref.params(s.before["G"]), ref.params(s.after["G"]), s.grads["G"], 2e-4, "G")


def _gan_terms(s) -> tuple[dict[str, torch.Tensor], torch.nn.Module]:
    G = copy.deepcopy(s.before["G"])
    sr = G(s.lr)
    terms = {
        "G_content": 2.0 * ref.l1(ref.vgg19_features(sr, s.vgg, "conv2_2"), ref.vgg19_features(s.hr, s.vgg, "conv2_2")),
        "G_adv": 1e-3 * ref.bce_real(copy.deepcopy(s.after["D"])(sr)),
        "G_pixel": 0.5 * ref.l1(sr, s.hr),
    }
    return terms, G


@one_thread_only
def test_gan_stage_content_loss_is_lambda_content_times_l1_between_vgg_conv2_2_features_of_sr_and_hr(gan_step):
    terms, _ = _gan_terms(gan_step)
    assert gan_step.losses["G_content"] == pytest.approx(terms["G_content"].item(), rel=1e-9)


@one_thread_only
def test_gan_stage_adversarial_loss_is_1e3_times_bce_of_the_updated_discriminator_on_sr_as_real(gan_step):
    terms, _ = _gan_terms(gan_step)
    assert gan_step.losses["G_adv"] == pytest.approx(terms["G_adv"].item(), rel=1e-9)


@one_thread_only
def test_gan_stage_pixel_loss_is_lambda_pixel_times_l1_to_hr(gan_step):
    terms, _ = _gan_terms(gan_step)
    assert gan_step.losses["G_pixel"] == pytest.approx(terms["G_pixel"].item(), rel=1e-9)


@one_thread_only
def test_gan_stage_discriminator_losses_are_bce_hr_as_real_and_sr_as_fake(gan_step):
    s = gan_step
    sr = copy.deepcopy(s.before["G"])(s.lr).detach()
    D = copy.deepcopy(s.before["D"])
    assert s.losses["D_real"] == pytest.approx(ref.bce_real(D(s.hr)).item(), rel=1e-9)
    assert s.losses["D_fake"] == pytest.approx(ref.bce_fake(D(sr)).item(), rel=1e-9)


@one_thread_only
def test_gan_stage_generator_gradient_is_that_of_content_plus_adversarial_plus_pixel(gan_step):
    terms, G = _gan_terms(gan_step)
    p = ref.params(G)
    ref.assert_gradients_match(gan_step.grads["G"], ref.grads(sum(terms.values()), p),
                               {k: ref.grads(v, p) for k, v in terms.items()}, "G")


@one_thread_only
def test_gan_stage_discriminator_gradient_is_that_of_half_real_plus_fake(gan_step):
    s = gan_step
    sr = copy.deepcopy(s.before["G"])(s.lr).detach()
    D = copy.deepcopy(s.before["D"])
    real, fake = ref.bce_real(D(s.hr)), ref.bce_fake(D(sr))
    p = ref.params(D)
    ref.assert_gradients_match(s.grads["D"], ref.grads(0.5 * (real + fake), p),
                               {"D_real": ref.grads(real, p), "D_fake": ref.grads(fake, p)}, "D")


@one_thread_only
def test_gan_stage_each_net_takes_one_adam_step_of_lr_2e4_on_its_own_gradient(gan_step):
    ref.assert_each_net_took_one_adam_step(gan_step, {"G": 2e-4, "D": 2e-4})
