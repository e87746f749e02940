"""The architecture table: every network name translate builds, and the rules that go with it.

One torch-free table that every side reads: :mod:`translate.nets` builds a generator by looking
its name up here (then imports and calls the factory the row names), model cards take their size multiple,
fixed input size and inputs from it, :class:`translate.train.config.GANConfig` takes its ``--netG`` /
``--netD`` / ``--norm`` / ``--init-type`` / ``--gan-mode`` choices and checks from it, and
:mod:`translate.run.inference` takes the defaults of a bare reference-layout file from it.

A generator name is matched against each entry's ``pattern`` (``re.fullmatch``): ``resnet_9blocks``
is the ``resnet`` entry with 9 blocks, ``unet_256`` the ``unet`` entry with 8 levels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from translate.errors import TranslateError

__all__ = ["Generator", "GENERATORS", "DISCRIMINATORS", "NORMS", "INIT_TYPES", "GAN_MODES", "lookup", "match",
           "unet_levels", "size_multiple", "fixed_size", "inputs", "family", "reference_config", "check_trainable",
           "known_names"]


def unet_levels(m: re.Match, generator: dict[str, Any]) -> int:
    """Levels of a U-Net: ``num_downs`` when the card gives it, else log2 of the N in ``unet_N``."""
    size = int(m.group(1))
    if generator.get("num_downs"):
        return int(generator["num_downs"])
    if size & (size - 1):
        raise ValueError(f"unet_{size}: size must be a power of two (or pass num_downs)")
    return size.bit_length() - 1


@dataclass(frozen=True)
class Generator:
    """One generator family of the table.

    ``pattern``: the names it answers to (a regex, ``re.fullmatch``); ``factory``: the class or
    function that builds it, as ``"module:name"`` (imported only when a network is built);
    ``name_kwargs``: keyword arguments the name itself gives the factory (``resnet_9blocks``:
    ``n_blocks=9``), from the name match and the card's generator keyword arguments;
    ``multiple``: the factor H and W must be multiples of, from the same two;
    ``fixed_size``: the one square input side the network accepts (None: any multiple);
    ``inputs``: the planes it is given, in channel order (an image, then e.g. a hole mask of one
    channel each); ``reference``: a layout of the reference CycleGAN / pix2pix code, with the
    norm / dropout its official files use (a ``--netG`` choice of the GAN recipes and an
    ``--arch`` of `translate run`), and the task of those files; ``reference_flag_tasks``: keyword
    arguments that, when true, mark a file of another reference code base and its task (the
    anti-aliased ResNet of the CUT code).
    """

    family: str
    pattern: str
    factory: str
    examples: tuple[str, ...]
    name_kwargs: Callable[[re.Match, dict[str, Any]], dict[str, Any]] = lambda m, g: {}
    multiple: Callable[[re.Match, dict[str, Any]], int] = lambda m, g: 1
    fixed_size: int | None = None
    inputs: tuple[str, ...] = ("image",)
    reference: dict[str, Any] = field(default_factory=dict)
    reference_task: str | None = None
    reference_flag_tasks: dict[str, str] = field(default_factory=dict)


#: Every generator translate builds, by family.
GENERATORS: dict[str, Generator] = {g.family: g for g in (
    Generator("resnet", r"resnet_(\d+)blocks", "translate.nets.resnet:ResnetGenerator",
              ("resnet_9blocks", "resnet_6blocks"), name_kwargs=lambda m, g: {"n_blocks": int(m.group(1))},
              multiple=lambda m, g: 4, reference={"norm": "instance"}, reference_task="cyclegan",
              reference_flag_tasks={"antialias": "cut", "antialias_up": "cut"}),
    Generator("unet", r"unet_(\d+)", "translate.nets.unet:UnetGenerator", ("unet_256", "unet_128"),
              name_kwargs=lambda m, g: {"num_downs": unet_levels(m, g)},
              multiple=lambda m, g: 2 ** unet_levels(m, g),
              reference={"norm": "batch", "use_dropout": True}, reference_task="pix2pix"),
    Generator("srresnet", r"srresnet", "translate.nets.srresnet:build_srresnet", ("srresnet",)),
    Generator("derain", r"derain", "translate.nets.derain:DerainGenerator", ("derain",),
              multiple=lambda m, g: 2 ** int(g.get("levels", 3))),
    Generator("context_encoder", r"context_encoder", "translate.nets.context_encoder:ContextEncoder",
              ("context_encoder",), multiple=lambda m, g: 128, fixed_size=128, inputs=("image", "mask")),
)}

#: ``--netD`` choices: 70x70 PatchGAN, PatchGAN with ``--n-layers-D``, 1x1 PixelGAN, multi-scale PatchGANs.
DISCRIMINATORS = ("basic", "n_layers", "pixel", "multiscale")
#: ``--norm`` choices (and the ``norm`` of every generator card).
NORMS = ("batch", "instance", "none")
#: ``--init-type`` choices.
INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")
#: ``--gan-mode`` choices (the adversarial losses of :class:`translate.train.losses.GANLoss`).
GAN_MODES = ("vanilla", "lsgan", "hinge", "wgangp")


def match(arch: str) -> tuple[Generator, re.Match] | None:
    """The table entry and name match for generator name ``arch``, or None for a name not in it
    (e.g. a community model run by spandrel)."""
    for entry in GENERATORS.values():
        m = re.fullmatch(entry.pattern, str(arch))
        if m:
            return entry, m
    return None


def lookup(arch: str) -> tuple[Generator, re.Match]:
    """:func:`match`, raising :class:`TranslateError` listing the known names for an unknown one."""
    found = match(arch)
    if found is None:
        raise TranslateError(f"unknown generator architecture '{arch}'; known: {known_names()}")
    return found


def known_names() -> str:
    """The generator names for messages: ``resnet_Nblocks, unet_N, srresnet, derain, context_encoder``."""
    return ", ".join(g.pattern.replace(r"(\d+)", "N") for g in GENERATORS.values())


def size_multiple(generator: dict[str, Any]) -> int:
    """The factor H and W must be multiples of for the generator card ``generator`` (``arch`` plus
    keyword arguments): 4 for ResNets, 2^levels for U-Nets and the de-raining net, 128 for the
    context encoder; ``generator["multiple"]`` or 1 for names not in the table."""
    found = match(generator["arch"])
    if found is None:
        return int(generator.get("multiple", 1))
    entry, m = found
    return int(entry.multiple(m, generator))


def fixed_size(arch: str) -> int | None:
    """The one square input side generator ``arch`` accepts, or None when any multiple works."""
    found = match(arch)
    return found[0].fixed_size if found else None


def inputs(arch: str) -> tuple[str, ...]:
    """The planes generator ``arch`` is given, in channel order: ``("image",)`` or e.g. ``("image", "mask")``."""
    found = match(arch)
    return found[0].inputs if found else ("image",)


def reference_config(arch: str, base: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    """The generator config and task of an official (reference-layout) file of ``arch``: ``base``
    (what its keys tell) completed with the family's official norm / dropout defaults. A name
    that is no reference layout raises :class:`TranslateError`."""
    entry, _ = lookup(arch)
    if entry.reference_task is None:
        names = ", ".join(n for g in GENERATORS.values() if g.reference_task for n in g.examples)
        raise TranslateError(f"--arch {arch}: not a CycleGAN / pix2pix layout; use one of {names}")
    config = {**(base or {}), "arch": arch}
    for key, value in entry.reference.items():
        config.setdefault(key, value)
    task = next((t for flag, t in entry.reference_flag_tasks.items() if config.get(flag)), entry.reference_task)
    return config, task


def family(arch: str) -> str | None:
    """The table family of generator name ``arch`` (``resnet``, ``unet`` ...), or None."""
    found = match(arch)
    return found[0].family if found else None


def check_trainable(arch: str) -> None:
    """Raise :class:`TranslateError` unless ``arch`` is a ``--netG`` the GAN recipes train: a
    reference layout (``resnet_Nblocks``, or ``unet_N`` with N a power of 2, at least 32)."""
    found = match(arch)
    ok = found is not None and found[0].reference_task is not None
    if ok and found[0].family == "unet":
        size = int(found[1].group(1))
        ok = size >= 32 and size & (size - 1) == 0
    if not ok:
        names = ", ".join(n for g in GENERATORS.values() if g.reference_task for n in g.examples)
        raise TranslateError(f"unknown --netG '{arch}'; use {names} (or another resnet_Nblocks / unet_N with N a "
                             f"power of 2)")
