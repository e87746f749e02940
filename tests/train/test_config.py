"""Config dataclasses <-> argparse: every field is an option, only given options are kept."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys

import pytest

from translate.errors import TranslateError
from translate.train.config import TrainConfig, add_config_arguments, given_options, resumable_fields
from translate.train.recipes import get_recipe, recipe_names

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
            "from translate.train.recipes import recipe_names; print(' '.join(recipe_names()), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[-1] == "False" and {"pix2pix", "cyclegan"} <= set(out[:-1]) == set(recipe_names())
    assert issubclass(get_recipe("pix2pix").Config, TrainConfig)


# ---------------------------------------------------------------------------- YAML config files

def test_yaml_round_trip_every_recipe(tmp_path):
    from translate.train.config import read_config_file, save_config_yaml

    for name in recipe_names():
        cls = get_recipe(name).Config
        config = dataclasses.replace(cls(data="d", out="o"), max_iters=7, lr=1e-5, flip=False)
        save_config_yaml(config, tmp_path / f"{name}.yaml", name)
        options, recipe = read_config_file(tmp_path / f"{name}.yaml", cls)
        assert recipe == name
        assert cls(**options) == config


def test_yaml_keys_may_be_flag_names_and_floats_in_e_notation(tmp_path):
    from translate.train.config import read_config_file

    path = tmp_path / "c.yaml"
    path.write_text("crop-size: 64\nlr: 2e-4\nmax_iters: null\nnorm: batch\n", encoding="utf-8")
    options, recipe = read_config_file(path, get_recipe("pix2pix").Config)
    assert options == {"crop_size": 64, "lr": 2e-4, "max_iters": None, "norm": "batch"} and recipe == ""


@pytest.mark.parametrize("text, key", [("bogus: 1\n", "bogus"), ("crop_size: big\n", "crop_size"),
                                       ("flip: 1\n", "flip"), ("epochs: 1.5\n", "epochs"), ("norm: foo\n", "norm"),
                                       ("max_iters: [1]\n", "max_iters")])
def test_yaml_bad_key_or_type_is_one_line_error_naming_key_and_file(tmp_path, text, key):
    from translate.train.config import read_config_file

    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TranslateError) as e:
        read_config_file(path, get_recipe("pix2pix").Config)
    assert key in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(TranslateError, match="mapping"):
        read_config_file(path, get_recipe("pix2pix").Config)


def test_cli_config_file_is_overridden_by_options_and_print_config(tmp_path):
    import yaml

    from translate.cli import main

    path = tmp_path / "c.yaml"
    path.write_text("recipe: pix2pix\ndata: here\nout: there\ncrop_size: 64\nload_size: 72\nlr: 1e-3\n",
                    encoding="utf-8")
    printed = subprocess.run([sys.executable, "-m", "translate", "train", "--config", str(path), "--crop-size", "32",
                              "--print-config"], capture_output=True, text=True, check=True).stdout
    config = yaml.safe_load(printed)
    assert config["recipe"] == "pix2pix" and config["crop_size"] == 32 and config["load_size"] == 72
    assert config["lr"] == 1e-3 and config["netG"] == "unet_256"  # file, CLI and defaults merged
    path.write_text("data: here\nout: there\n", encoding="utf-8")
    assert main(["train", "--config", str(path)]) == 2  # no recipe: key and none named
    assert main(["train", "pix2pix", "--config", str(path), "--print-config"]) == 0
    path.write_text("recipe: cyclegan\n", encoding="utf-8")
    assert main(["train", "pix2pix", "--config", str(path), "--print-config"]) == 2
