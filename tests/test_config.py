"""Config dataclasses <-> argparse: every field is an option, only given options are kept."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys

import pytest

from translate.config import TrainConfig, add_config_arguments, given_options, resumable_fields
from translate.errors import TranslateError
from translate.recipes import get_recipe, recipe_names

REQUIRED_FLAGS = ["--epochs", "--epochs-decay", "--max-iters", "--batch-size", "--load-size", "--crop-size", "--netG",
                  "--netD", "--n-layers-D", "--norm", "--ngf", "--ndf", "--lr", "--seed", "--gan-mode",
                  "--init-type", "--init-gain", "--no-dropout", "--pool-size", "--sample-every", "--save-every",
                  "--save-every-epochs", "--print-every", "--workers", "--device"]


def parser_for(recipe: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, get_recipe(recipe).Config)
    return parser


@pytest.mark.parametrize("recipe,extra", [("pix2pix", ["--direction", "--lambda-L1"]),
                                          ("cyclegan", ["--lambda-cycle", "--lambda-identity"])])
def test_every_field_is_an_option_with_help(recipe, extra):
    parser = parser_for(recipe)
    flags = {s: a for a in parser._actions for s in a.option_strings}
    for flag in REQUIRED_FLAGS + extra:
        assert flag in flags, flag
    for field in dataclasses.fields(get_recipe(recipe).Config):
        action = flags["--" + field.name.replace("_", "-")]
        assert action.help and len(action.help) > 10, field.name  # re-declared fields keep the base help


def test_only_given_options_are_returned_and_typed():
    Config = get_recipe("pix2pix").Config
    ns = parser_for("pix2pix").parse_args(["--crop-size", "128", "--no-dropout", "--lr", "1e-3"])
    given = given_options(ns, Config)
    assert given == {"crop_size": 128, "dropout": False, "lr": 1e-3}
    config = Config(**given)
    assert config.netG == "unet_256" and config.norm == "batch" and config.gan_mode == "vanilla"
    assert get_recipe("cyclegan").Config().pool_size == 50
    with pytest.raises(SystemExit):
        parser_for("pix2pix").parse_args(["--gan-mode", "nope"])


def test_round_trip_and_unknown_fields():
    Config = get_recipe("cyclegan").Config
    config = Config(data="d", out="o", lambda_cycle=5.0)
    assert Config.from_dict(config.to_dict()) == config
    with pytest.raises(TranslateError, match="unknown fields"):
        Config.from_dict({**config.to_dict(), "lambda_L1": 1.0})


def test_resumable_fields_exclude_the_model():
    names = resumable_fields(get_recipe("pix2pix").Config)
    assert {"max_iters", "epochs", "workers", "device"} <= set(names)
    assert not {"netG", "lr", "crop_size", "seed", "batch_size"} & set(names)


@pytest.mark.parametrize("changes,message", [
    ({"crop_size": 300}, "larger than --load-size"),
    ({"batch_size": 0}, "--batch-size must be >= 1"),
    ({"epochs": 0, "epochs_decay": 0}, "at least 1"),
    ({"netG": "unet_64", "crop_size": 96, "load_size": 100}, "multiple of 64"),
    ({"data": ""}, "--data DIR is required"),
])
def test_validation_errors(changes, message):
    config = get_recipe("pix2pix").Config(data="d", out="o", netG="unet_128", crop_size=128, load_size=143)
    config.validate()
    with pytest.raises(TranslateError, match=message):
        dataclasses.replace(config, **changes).validate()


def test_recipes_are_listed_without_importing_torch():
    code = ("import sys; from translate.cli import build_parser; build_parser(); "
            "from translate.recipes import recipe_names; print(' '.join(recipe_names()), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[-1] == "False" and {"pix2pix", "cyclegan"} <= set(out[:-1]) == set(recipe_names())
    assert issubclass(get_recipe("pix2pix").Config, TrainConfig)
