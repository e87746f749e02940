"""The srgan recipe: pixel-loss pretraining, then GAN fine-tuning from it, on real T91 images."""

import math

import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

from tests.helpers import random_image, write_png
from translate.cli import main
from translate.errors import TranslateError
from translate.imageio import read_image
from translate.models.loading import load_model
from translate.nets.build import build_generator
from translate.nets.vgg import VGG19_FILE
from translate.models.checkpoint import read_checkpoint
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
