"""CycleGAN through `translate train cyclegan` on real horse/zebra photos with tiny nets."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import torch

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
    from translate.models.cards import lookup
    from translate.imageio import read_image, to_uint

    root = Path(__file__).resolve().parents[3]
    card = lookup("facades-cyclegan-label2photo")
    assert card is not None and card.task == "cyclegan" and card.direction == "BtoA"
    source = to_uint(read_image(root / "docs/samples/facade_labels.png").rgb)
    out = translate.load("facades-cyclegan-label2photo", device="cpu")(source)
    # a photo's colours, not the label palette's saturated blues: facades are beige / grey
    assert out[..., 2].mean() < source[..., 2].mean() - 40
