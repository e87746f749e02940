"""`translate train derain`: a few steps on real pairs + synthetic rain, the VGG switch, the model card."""

import copy
import math

import numpy as np
import pytest
import torch

from translate.errors import TranslateError
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
    from translate.models.cards import REPO_WEIGHTS

    path = REPO_WEIGHTS / "derain.safetensors"
    if not path.is_file():
        pytest.skip("weights/derain.safetensors is not shipped")
    assert path.stat().st_size <= 10e6
    translator = load("derain", device="cpu")
    assert translator.card.task == "derain" and translator.card.generator["arch"] == "derain"
    image = (np.random.default_rng(1).random((35, 42, 3)) * 255).astype(np.uint8)
    assert translator(image).shape == image.shape
