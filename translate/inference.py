"""Resolve MODEL (zoo name, our checkpoint, official ``.pth``, shipped file, ONNX file) to a
translator: the PyTorch network wrapped as a backend of the shared image pipeline.

``translate run``, ``translate export`` and :func:`translate.load` all resolve models here, so a
name or file means the same thing everywhere. ONNX files are handed to the torch-free
:mod:`translate.runtime` before torch is imported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from translate import architectures, cards, checkpoint, weights
from translate.cards import ModelCard
from translate.errors import TranslateError
from translate.pipeline import Translator

DIRECTIONS = ("AtoB", "BtoA")


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when available else ``cpu``; ``cpu``, ``cuda`` and ``cuda:N`` are
    checked against the GPUs PyTorch sees, and a device this machine lacks is a one-line
    :class:`TranslateError` that lists the devices it has."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    match = re.fullmatch(r"cuda(?::(\d+))?", str(device))
    if match is None:
        raise TranslateError(f"unknown device '{device}'; use auto, cpu, cuda or cuda:N")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if int(match.group(1) or 0) >= count:
        have = ", ".join(["cpu"] + [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(count)])
        why = "no CUDA GPU is available to PyTorch" if count == 0 else "no such GPU"
        raise TranslateError(f"--device {device}: {why}; this machine has {have}; use one of those or auto")
    return device


def _official_card(path: Path, state_dict: dict, arch: str | None, norm: str | None) -> ModelCard:
    """Card for a bare reference-layout state dict, from its keys or from --arch / --norm."""
    from translate.nets import infer_generator_config

    config = infer_generator_config(state_dict)
    task = None
    if arch is not None:
        same = config is not None and architectures.family(config["arch"]) == architectures.family(arch)
        config, task = architectures.reference_config(arch, config if same else None)
    if norm is not None and config is not None:
        config["norm"] = norm
    if config is None:
        raise TranslateError(
            f"{path}: cannot tell the architecture from its keys; pass --arch "
            f"(resnet_9blocks, resnet_6blocks, unet_256, unet_128) and --norm (instance, batch)")
    if task is None:
        _, task = architectures.reference_config(config["arch"])
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
    ``.safetensors`` file, or an official-layout ``.pth`` state dict (``arch`` / ``norm`` when the
    keys do not tell). Returns ``(module, card)``.
    """
    from translate.nets import build_generator, describe, load_generator_state

    if direction is not None and direction not in DIRECTIONS:
        raise TranslateError(f"--direction must be AtoB or BtoA, got '{direction}'")
    name = None
    card, path = resolve_weights(spec, weights_file)
    if card is not None:
        if direction is not None and direction != card.direction and card.task == "cyclegan":
            raise TranslateError(f"{card.name} translates one way only ({card.direction}); "
                                 f"use the zoo model for the other direction (see translate zoo list)")
        state = checkpoint.load_state_dict(path)
    else:
        if path.suffix == ".safetensors":
            card, state = cards.read_card(path), checkpoint.load_state_dict(path)
        else:
            loaded = checkpoint.load_torch_file(path)
            if checkpoint.is_checkpoint(loaded):
                ckpt = checkpoint.as_checkpoint(loaded, path)
                name, card = _pick_generator(ckpt, direction, path)
                state = ckpt["nets"][name]
            else:
                state = checkpoint.as_state_dict(loaded, path)
                card = _official_card(path, state, arch, norm)
    net = build_generator(**card.generator)
    load_generator_state(net, state, describe(card.generator), source=str(path))
    return net.eval().to(device), card


class TorchBackend:
    """A pipeline backend running a PyTorch module: (B, C, H, W) float32 numpy -> numpy."""

    def __init__(self, net: Any, device: str = "cpu"):
        self.net = net
        self.device = device

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            y = self.net(torch.from_numpy(np.ascontiguousarray(x)).to(self.device))
        return y.float().cpu().numpy()


def load(spec: str, *, device: str = "auto", direction: str | None = None, weights_file: str | None = None,
         arch: str | None = None, norm: str | None = None) -> Translator:
    """A :class:`~translate.pipeline.Translator` for ``spec`` (see :func:`load_model`).

    A path ending in ``.onnx`` runs on onnxruntime through :mod:`translate.runtime` and never
    imports torch.
    """
    if str(spec).lower().endswith(".onnx"):
        from translate.runtime import Session

        if direction or weights_file or arch or norm:
            raise TranslateError("--direction/--weights/--arch/--norm do not apply to an ONNX file")
        return Session(spec, device=device)
    device = resolve_device(device)
    net, card = load_model(spec, direction=direction, weights_file=weights_file, arch=arch, norm=norm,
                           device=device)
    return Translator(TorchBackend(net, device), card, device=device,
                      model_file=source_weights_file(spec, weights_file))
