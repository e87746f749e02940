"""Resolve MODEL (zoo name, our checkpoint, official ``.pth``, shipped file, community model) to
a PyTorch network and its model card: the one resolver behind `translate run`, `export`, `eval`
and a recipe's ``--pretrained``, so a name or file means the same thing everywhere.

ONNX files are not resolved here: :func:`translate.run.inference.load` hands them to the
torch-free :mod:`translate.run.runtime` before torch is imported.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from translate.errors import TranslateError
from translate.models import cards, checkpoint, community, weights
from translate.models.cards import ModelCard
from translate.nets import architectures

DIRECTIONS = ("AtoB", "BtoA")


def _official_card(path: Path, state_dict: dict, arch: str | None, norm: str | None) -> ModelCard:
    """Card for a bare reference-layout state dict, from its keys or from --arch / --norm."""
    from translate.nets.build import infer_generator_config

    config = infer_generator_config(state_dict)
    task = None
    if arch is not None:
        same = config is not None and architectures.family(config["arch"]) == architectures.family(arch)
        config, task = architectures.reference_config(arch, config if same else None)
    if norm is not None and config is not None:
        config["norm"] = norm
    if config is None:
        raise TranslateError(
            f"{path}: cannot tell the architecture from its keys ({community.unknown_hint()}); for a CycleGAN / "
            f"pix2pix file pass --arch (resnet_9blocks, resnet_6blocks, unet_256, unet_128) and --norm (instance, batch)")
    if task is None:
        _, task = architectures.reference_config(config["arch"], config)
    return ModelCard(name=path.stem, task=task, generator=config, multiple=architectures.size_multiple(config),
                     source=str(path), licence="as the file's source", description="state dict file")


def _pick_generator(ckpt: dict, direction: str | None, path: Path) -> tuple[str, ModelCard]:
    """Choose the generator of a `translate train` checkpoint for ``direction``."""
    found = cards.checkpoint_cards(ckpt, path)
    if direction is None:
        return next(iter(found.items()))
    for name, card in found.items():
        if card.direction == direction:
            return name, card
    have = ", ".join(f"{n} ({c.direction})" for n, c in found.items())
    raise TranslateError(f"{path}: no generator for --direction {direction}; this checkpoint has {have}")


def resolve_weights(spec: str, weights_file: str | None = None, *, fetch: bool = True) -> tuple[ModelCard | None, Path]:
    """The zoo card (None for a file) and the weights file that ``spec`` names.

    A zoo name resolves to ``weights_file``, its shipped file or its cached download (fetched
    first when ``fetch``); a run folder to its ``checkpoints/latest.pt``; anything else to the
    path given. A name that is neither raises :class:`TranslateError`.
    """
    card = cards.lookup(spec)
    if card is not None:
        if fetch:
            return card, weights.fetch(card, weights=weights_file)
        if weights_file:
            return card, Path(weights_file)
        return card, weights.shipped_path(card) if card.file else weights.cache_path(card)
    path = Path(weights_file or spec)
    if os.path.isdir(path):
        if not (path / "checkpoints" / "latest.pt").is_file():
            raise TranslateError(f"{path}: is a folder without checkpoints/latest.pt, so not a run folder of "
                                 f"`translate train`; give a model file, a run folder or a zoo name")
        path = path / "checkpoints" / "latest.pt"
    if not os.path.isfile(path):
        raise TranslateError(f"{spec}: not a zoo model name (see `translate zoo list`) and no such file")
    return None, path


def source_weights_file(spec: str, weights_file: str | None = None) -> Path | None:
    """The file whose weights :func:`load_model` (``spec``, ``weights_file``) reads, or None when
    it is not on disk (a zoo model not downloaded yet)."""
    try:
        _, path = resolve_weights(spec, weights_file, fetch=False)
    except TranslateError:
        return None
    return path if os.path.isfile(path) else None


def load_model(spec: str, *, direction: str | None = None, weights_file: str | None = None,
               arch: str | None = None, norm: str | None = None, device: str = "cpu") -> tuple[Any, ModelCard]:
    """Build the generator named by ``spec`` with its weights, in eval mode on ``device``.

    ``spec`` is a zoo name (``horse2zebra``, ``pix2pix/edges2shoes``; weights are fetched into
    the cache unless ``weights_file`` is given), a run folder or checkpoint written by
    ``translate train`` (``direction`` picks G_A / G_B of a CycleGAN), a shipped
    ``.safetensors`` file, an official-layout ``.pth`` state dict (``arch`` / ``norm`` when the
    keys do not tell), or a community model's ``.pth`` / ``.safetensors`` (ESRGAN, SwinIR, ...;
    tried with spandrel only for state dicts that are none of the others, see
    :mod:`translate.models.community`). Returns ``(module, card)``.
    """
    from translate.nets.build import build_generator, describe, infer_generator_config, load_generator_state

    if direction is not None and direction not in DIRECTIONS:
        raise TranslateError(f"--direction must be AtoB or BtoA, got '{direction}'")
    name = None
    card, path = resolve_weights(spec, weights_file)
    if card is not None:
        if direction is not None and card.direction is not None and direction != card.direction:
            # a zoo / shipped file holds one generator: the card says which way it goes
            raise TranslateError(f"{card.name} translates one way only ({card.direction}); leave out --direction, "
                                 f"or use a model for the other direction (see translate zoo list)")
        state = checkpoint.load_state_dict(path)
    else:
        if path.suffix == ".safetensors":
            card, state = cards.read_card(path, optional=True), checkpoint.load_state_dict(path)
        else:
            loaded = checkpoint.load_torch_file(path)
            if checkpoint.is_checkpoint(loaded):
                ckpt = checkpoint.as_checkpoint(loaded, path)
                name, card = _pick_generator(ckpt, direction, path)
                state = ckpt["nets"][name]
            else:
                state = checkpoint.as_state_dict(loaded, path)
        if card is None and arch is None and infer_generator_config(state) is None:
            # Neither ours nor an official layout: a community model (ESRGAN, SwinIR, ...) spandrel knows?
            found = community.load(state, path)
            if found is not None:
                return _community_ready(*found, direction=direction, norm=norm, device=device)
        if card is None:
            card = _official_card(path, state, arch, norm)
    net = build_generator(**card.generator)
    load_generator_state(net, state, describe(card.generator), source=str(path))
    return net.eval().to(device), card


def _community_ready(net: Any, card: ModelCard, *, direction: str | None, norm: str | None,
                     device: str) -> tuple[Any, ModelCard]:
    """A community network on ``device``, after refusing the options that do not apply to it."""
    if direction is not None or norm is not None:
        raise TranslateError(f"{card.source}: --direction / --norm do not apply to a community model "
                             f"({card.arch.removeprefix(community.ARCH_PREFIX)})")
    return net.to(device), card
