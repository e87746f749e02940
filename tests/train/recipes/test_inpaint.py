"""`translate train inpaint`: a few steps on real images, the masked loss, and `translate run inpaint`."""

import copy
import math

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
    from translate.models.cards import REPO_WEIGHTS

    path = REPO_WEIGHTS / "inpaint.safetensors"
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
