"""Training configs as typed dataclasses, and the one bridge between them and argparse.

Every recipe's config is a dataclass derived from :class:`TrainConfig`; the command line of
`translate train RECIPE` is generated from its fields (:func:`add_config_arguments`), so the CLI,
the saved ``config.json`` and the checkpoint's ``config`` can never drift apart. Field metadata
carries the help text (``help``), allowed values (``choices``) and whether ``--resume`` may
change the field (``resumable``). A subclass may re-declare a field only to change its default;
its help is then taken from the base class. No torch here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from translate.data.layouts import PREPROCESS
from translate.errors import TranslateError, check_number
from translate.nets import architectures

C = TypeVar("C", bound="TrainConfig")

DEVICES = ("auto", "cpu", "cuda")


#: Largest value an int field takes unless its metadata says otherwise (C int range: beyond it
#: numpy / torch / OpenCV raise overflow errors instead of training).
INT_MAX = 2**31 - 1


def opt(default: Any, help: str, choices: tuple | None = None, resumable: bool = False,
        metavar: str | None = None, *, low: float | None = None, high: float | None = None,
        above: float | None = None, below: float | None = None) -> Any:
    """A dataclass field with CLI metadata: ``help``, ``choices``, ``resumable`` (``--resume``
    may override it), ``metavar``, and the range of a numeric field: ``low`` <= value <= ``high``,
    ``above`` < value < ``below``. Numeric fields without a range must be >= 0 (and ints at most
    :data:`INT_MAX`); floats must always be finite (see :func:`check_value`)."""
    return field(default=default, metadata={"help": help, "choices": choices, "resumable": resumable,
                                            "metavar": metavar, "low": low, "high": high, "above": above,
                                            "below": below})


@dataclass
class TrainConfig:
    """Fields every recipe shares: data, run folder, schedule, optimiser, loop and logging."""

    data: str = opt("", "dataset folder (layout depends on the recipe)", resumable=True, metavar="DIR")
    out: str = opt("", "run folder for checkpoints, samples, losses.jsonl and config.json", metavar="RUN_DIR")
    epochs: int = opt(100, "epochs at the initial learning rate", resumable=True, high=10**6)
    epochs_decay: int = opt(100, "epochs over which the learning rate decays linearly to 0", resumable=True,
                            high=10**6)
    max_iters: int | None = opt(None, "stop after this many iterations in total (smoke runs)", resumable=True,
                                metavar="N", low=1)
    batch_size: int = opt(1, "images per iteration and process (under torchrun the global batch is "
                          "processes x batch size)", low=1, high=65536)
    load_size: int = opt(286, "images are resized to load-size x load-size before cropping", low=1, high=16384)
    crop_size: int = opt(256, "random crop size fed to the networks", low=1, high=16384)
    preprocess: str = opt("resize_and_crop", "resize_and_crop: resize to load-size then random crop; "
                          "crop: random crop only; resize: resize to crop-size; none: keep the size (rounded "
                          "down to the generator's size multiple)", PREPROCESS)
    flip: bool = opt(True, "random horizontal flips")
    lr: float = opt(2e-4, "Adam learning rate", above=0)
    beta1: float = opt(0.5, "Adam beta1", below=1)
    seed: int = opt(0, "random seed (torch, numpy, python, augmentation, data order)", high=2**32 - 1)
    workers: int = opt(2, "data loading worker processes (0: load in the main process)", resumable=True,
                       high=256)
    device: str = opt("auto", "auto (cuda when available), cpu or cuda", DEVICES, resumable=True)
    print_every: int = opt(100, "append the losses to losses.jsonl every N iterations", resumable=True, metavar="N",
                           low=1)
    sample_every: int = opt(400, "write an image sheet to samples/ every N iterations", resumable=True, metavar="N",
                            low=1)
    save_every: int = opt(500, "save checkpoints/latest.pt every N iterations (and at the end)", resumable=True,
                          metavar="N", low=1)
    save_every_epochs: int = opt(5, "save checkpoints/epoch_N.pt every N epochs (0: never)", resumable=True,
                                 metavar="N")
    tensorboard: bool = opt(False, "also log losses and image sheets to RUN_DIR/tensorboard (needs the optional "
                            "tensorboard package)", resumable=True)
    val_every: int = opt(0, "validate every N iterations (PSNR / SSIM on --val-data; keeps checkpoints/best.pt by "
                         "PSNR); 0: never; paired recipes only", resumable=True, metavar="N")
    val_data: str = opt("", "validation folder (default: the dataset's val/ split when present)", resumable=True,
                        metavar="DIR")
    val_max_images: int = opt(16, "validate on at most N images", resumable=True, metavar="N")
    precision: str = opt("fp32", "arithmetic of the training steps: fp32, bf16 or fp16 (torch.autocast; fp16 "
                         "scales the losses with a GradScaler)", ("fp32", "bf16", "fp16"))
    channels_last: bool = opt(False, "store weights and images channels-last (NHWC; faster convolutions on GPUs)",
                              resumable=True)
    compile: bool = opt(False, "torch.compile the networks (falls back with a warning where unsupported)",
                        resumable=True)
    sync_bn: bool = opt(False, "under torchrun: batch-norm statistics over the global batch (SyncBatchNorm)")
    precise_bn: int = opt(0, "recompute the generators' batch-norm statistics over N training batches in every "
                          "saved checkpoint instead of keeping the moving average (0: off)", resumable=True,
                          metavar="N")
    health_every: int = opt(50, "check training health every N iterations (discriminator winning, oscillating "
                            "losses, exploding gradients; the generator's outputs, for collapse, every min(N, 5) "
                            "iterations for the first 1000); warnings go to stderr, losses.jsonl and index.html; "
                            "0: off", resumable=True, metavar="N")

    def validate(self) -> None:
        """Raise :class:`TranslateError` (one line) for values that cannot train."""
        for f in dataclasses.fields(self):
            try:
                setattr(self, f.name, check_value(type(self), f.name, getattr(self, f.name)))
            except ValueError as e:
                raise TranslateError(f"--{flag_name(f.name)} {e}, got {getattr(self, f.name)!r}") from None
        if self.epochs + self.epochs_decay < 1:
            raise TranslateError("--epochs plus --epochs-decay must be at least 1")
        if self.precise_bn and self.sync_bn:
            raise TranslateError("--precise-bn recomputes statistics in one process; it cannot be combined with "
                                 "--sync-bn")
        if self.preprocess == "resize_and_crop" and self.crop_size > self.load_size:
            raise TranslateError(
                f"--crop-size {self.crop_size} is larger than --load-size {self.load_size}; "
                f"use a crop size <= the load size (e.g. --load-size 286 --crop-size 256)")
        if not self.data:
            raise TranslateError("--data DIR is required (the dataset folder)")
        if not self.out:
            raise TranslateError("--out RUN_DIR is required (where checkpoints and samples go)")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of every field (saved as config.json and in checkpoints)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[C], d: Any, source: str = "config") -> C:
        """Rebuild a config from :meth:`to_dict` output read from ``source`` (a file name, for the
        messages). Not a mapping, unknown keys or values of the wrong type or range raise a
        one-line TranslateError naming ``source`` and the key (:func:`check_value`)."""
        if not isinstance(d, dict):
            raise TranslateError(f"{source}: expected a mapping of option: value, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(map(str, set(d) - names))
        if unknown:
            raise TranslateError(f"{source}: unknown fields {unknown} for {cls.__name__}; "
                                 f"written by another version of translate?")
        values = {}
        for key, value in d.items():
            try:
                values[key] = check_value(cls, key, value)
            except ValueError as e:
                raise TranslateError(f"{source}: '{key}' {e}, got {value!r}") from None
        return cls(**values)

    def save_json(self, path: str | Path) -> None:
        """Write the config as indented JSON, atomically."""
        from translate.fileio import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")


@dataclass
class GANConfig(TrainConfig):
    """Fields of the image-to-image GAN recipes: generator / discriminator choice and GAN loss.

    Recipes re-declare fields here (``netG: str = "unet_256"``) to change only the default.
    """

    input_nc: int = opt(3, "input channels (1: grayscale, 3: RGB)", (1, 3))
    output_nc: int = opt(3, "output channels (1: grayscale, 3: RGB)", (1, 3))
    netG: str = opt("resnet_9blocks", "generator: resnet_Nblocks (e.g. resnet_9blocks, resnet_6blocks) or "
                    "unet_N (unet_256, unet_128, unet_64; crop size must be a multiple of N)")
    ngf: int = opt(64, "generator filters in the first conv layer", low=1)
    netD: str = opt("basic", "discriminator: basic (70x70 PatchGAN), n_layers, pixel or multiscale",
                    architectures.DISCRIMINATORS)
    n_layers_D: int = opt(3, "PatchGAN layers when --netD n_layers / multiscale", low=1)
    ndf: int = opt(64, "discriminator filters in the first conv layer", low=1)
    norm: str = opt("instance", "normalisation layers", architectures.NORMS)
    dropout: bool = opt(False, "dropout in the generator")
    init_type: str = opt("normal", "weight initialisation", architectures.INIT_TYPES)
    init_gain: float = opt(0.02, "scale of the initialisation", above=0)
    gan_mode: str = opt("lsgan", "adversarial loss", architectures.GAN_MODES)
    lambda_gp: float = opt(10.0, "gradient penalty weight (only with --gan-mode wgangp)")
    pool_size: int = opt(0, "image pool size for the discriminator (0: no pool)")
    diffaugment: str = opt("", "DiffAugment policy: the same differentiable augmentation of real and generated "
                           "images whenever D sees them, a comma-separated subset of color,translation,cutout "
                           "(helps with little data; empty: off)", metavar="POLICY")

    def validate(self) -> None:
        super().validate()
        from translate.train.diffaugment import parse_policy

        parse_policy(self.diffaugment)
        architectures.check_trainable(self.netG)
        multiple = architectures.size_multiple({"arch": self.netG})
        if self.preprocess != "none" and self.crop_size % multiple:
            raise TranslateError(
                f"--netG {self.netG} needs a crop size that is a multiple of {multiple}, got --crop-size "
                f"{self.crop_size}; change --crop-size or pick another --netG")

    def generator_kwargs(self, input_nc: int, output_nc: int) -> dict[str, Any]:
        """Keyword arguments of :func:`translate.nets.build.build_generator` (what a model card stores)."""
        kwargs: dict[str, Any] = {"arch": self.netG, "input_nc": input_nc, "output_nc": output_nc,
                                  "ngf": self.ngf, "norm": self.norm, "use_dropout": self.dropout}
        if architectures.family(self.netG) == "resnet":
            kwargs["padding_type"] = "reflect"
        return kwargs


#: Metavars of the fields that name input folders (``--data``, ``--val-data``, ``--more-data`` ...):
#: nothing of a run may be written inside them.
INPUT_FOLDER_METAVARS = ("DIR", "DIRS")


def input_folders(config: TrainConfig) -> list[Path]:
    """The input folders a config names (fields with an input-folder metavar; comma- or
    ``os.pathsep``-separated lists split), whether or not they exist."""
    folders = []
    for f in dataclasses.fields(config):
        if _field_help(type(config), f.name).get("metavar") in INPUT_FOLDER_METAVARS and getattr(config, f.name):
            parts = str(getattr(config, f.name)).replace(os.pathsep, ",").split(",")
            folders += [Path(part.strip()) for part in parts if part.strip()]
    return folders


def flag_name(field_name: str) -> str:
    """The CLI flag of a field without dashes: ``lambda_L1`` -> ``lambda-L1``."""
    return field_name.replace("_", "-")


def _field_help(cls: type, name: str) -> dict[str, Any]:
    # A subclass that re-declares a field to change its default loses the metadata; use the
    # nearest base class that has it.
    for klass in cls.__mro__:
        f = getattr(klass, "__dataclass_fields__", {}).get(name)
        if f is not None and f.metadata.get("help"):
            return dict(f.metadata)
    return {}


def _scalar_type(tp: Any) -> type:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    if tp in (str, int, float, bool):
        return tp
    raise TypeError(f"config fields must be str, int, float, bool or X | None, got {tp!r}")


def add_config_arguments(parser: argparse.ArgumentParser, cls: type[TrainConfig]) -> None:
    """Add one ``--flag`` per field of the dataclass ``cls`` to ``parser``.

    Defaults are ``argparse.SUPPRESS`` so the namespace holds only the options actually given
    (needed to tell a ``--resume`` override from a default); the help shows the real default.
    Bool fields become ``--flag / --no-flag``.
    """
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        meta = _field_help(cls, f.name)
        tp = _scalar_type(hints[f.name])
        default = f.default
        help_text = meta.get("help", "")
        if meta.get("resumable"):
            help_text += "; may be changed with --resume"
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS}
        flag = "--" + flag_name(f.name)
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
            if default is not None:  # None: the help text says what decides it
                help_text += f" (default: {'on' if default else 'off'})"
        else:
            kwargs["type"] = tp
            if meta.get("choices"):
                kwargs["choices"] = meta["choices"]
            if not meta.get("choices"):
                kwargs["metavar"] = meta.get("metavar") or {int: "N", float: "X", str: "NAME"}[tp]
            if default not in ("", None):
                help_text += f" (default: {default})"
        parser.add_argument(flag, help=help_text, **kwargs)


def given_options(namespace: argparse.Namespace, cls: type[TrainConfig]) -> dict[str, Any]:
    """The config fields present in ``namespace`` (options given on the command line)."""
    return {f.name: getattr(namespace, f.name) for f in dataclasses.fields(cls) if hasattr(namespace, f.name)}


def resumable_fields(cls: type[TrainConfig]) -> list[str]:
    """Names of the fields ``--resume`` may override (metadata ``resumable``)."""
    return [f.name for f in dataclasses.fields(cls) if _field_help(cls, f.name).get("resumable")]


# ---------------------------------------------------------------------------- YAML config files

def config_to_yaml(config: TrainConfig, recipe: str = "") -> str:
    """The config as YAML (``recipe:`` first when given), readable by :func:`read_config_file`."""
    import yaml

    data = ({"recipe": recipe} if recipe else {}) | config.to_dict()
    return f"# translate train config ({type(config).__name__})\n" + yaml.safe_dump(data, sort_keys=False)


def save_config_yaml(config: TrainConfig, path: str | Path, recipe: str = "") -> None:
    """Write :func:`config_to_yaml` to ``path`` atomically."""
    from translate.fileio import atomic_write_text

    atomic_write_text(path, config_to_yaml(config, recipe))


def check_value(cls: type[TrainConfig], name: str, value: Any) -> Any:
    """``value`` for field ``name`` of ``cls``, checked: the field's type (a float field also takes
    an int or a numeric string, as YAML 1.1 reads ``2e-4`` as a string), its ``choices``, a finite
    float, and its range (metadata ``low`` / ``high`` / ``above`` / ``below``; numbers without a
    range must be >= 0 and ints <= :data:`INT_MAX`). Raises ValueError with the reason ("must be
    >= 1"); every way a config arrives (options, YAML, config.json, checkpoint) goes through here.
    """
    hint = typing.get_type_hints(cls)[name]
    tp = _scalar_type(hint)
    optional = tp is not hint
    meta = _field_help(cls, name)
    choices = meta.get("choices")
    if value is None and optional:
        return None
    if tp is float and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if tp is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)  # YAML reads a bare 256 or 1.5 as a number
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ValueError(f"must be {'an' if tp is int else 'a'} {tp.__name__}{' or null' if optional else ''}")
    if choices and value not in choices:
        raise ValueError(f"must be one of {', '.join(map(str, choices))}")
    if tp in (int, float):
        bounds = {k: meta.get(k) for k in ("low", "high", "above", "below")}
        if bounds["low"] is None and bounds["above"] is None:
            bounds["low"] = 0
        if bounds["high"] is None and bounds["below"] is None and tp is int:
            bounds["high"] = INT_MAX
        check_number(value, **bounds)
    return value


def read_config_file(path: str | Path, cls: type[TrainConfig]) -> tuple[dict[str, Any], str]:
    """Options from a YAML (or JSON) config file for the dataclass ``cls``, and its ``recipe:``
    entry ('' when absent).

    Keys are field names or flag names (``crop_size`` or ``crop-size``). An unreadable file, an
    unknown key or a value of the wrong type raises a one-line TranslateError naming the key
    and the file.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise TranslateError(f"--config {path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise TranslateError(f"--config {path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TranslateError(f"--config {path}: expected a mapping of option: value, got {type(data).__name__}")
    recipe = data.pop("recipe", "") or ""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    options: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in fields:
            raise TranslateError(f"--config {path}: unknown option '{key}' for {cls.__name__}; "
                                 f"see `translate train RECIPE --print-config` for the valid keys")
        try:
            options[name] = check_value(cls, name, value)
        except ValueError as e:
            raise TranslateError(f"--config {path}: '{key}' {e}, got {value!r}") from None
    return options, str(recipe)
