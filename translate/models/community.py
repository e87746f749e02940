"""Community super-resolution / restoration models (ESRGAN, Real-ESRGAN, SwinIR, HAT, SPAN, ...)
through `spandrel <https://github.com/chaiNNer-org/spandrel>`_.

A ``.pth`` / ``.safetensors`` state dict that is neither a `translate` file nor an official
CycleGAN / pix2pix one is handed to spandrel's :class:`~spandrel.ModelLoader` registry, which
detects the architecture and its hyper-parameters from the keys and tensor shapes. Only
spandrel's own registry is used (its permissively licensed architectures); the non-commercial
ones of ``spandrel_extra_arches`` are never installed or enabled here. What spandrel reports
becomes a :class:`~translate.models.cards.ModelCard`, so the model runs through the same pipeline as
every other (padding to its size multiple and minimum, tiles, alpha, 16-bit) and exports to
ONNX like them:

==========================  =========================================================
spandrel                    card
==========================  =========================================================
``architecture.id``         ``generator["arch"]`` = ``"spandrel:<id>"``
``scale``                   ``scale``; task ``sr`` (scale > 1) or ``restoration``
``input/output_channels``   ``generator["input_nc"]`` / ``["output_nc"]`` (1 or 3)
``size_requirements``       ``multiple`` (``multiple_of``), ``extra["min_side"]``
``tiling``                  ``extra["tiling"]`` (``supported`` / ``discouraged`` ...)
``supports_half/bfloat16``  ``extra["precisions"]``
==========================  =========================================================

Images are in [0, 1] for these networks (``mean`` 0, ``std`` 1). spandrel is optional
(``pip install 'translate-gan[community]'``); without it such a file is refused in one line
that says so.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from translate.errors import TranslateError
from translate.models import cards
from translate.models.cards import ModelCard

if TYPE_CHECKING:
    import torch

ARCH_PREFIX = "spandrel:"
INSTALL_HINT = "pip install 'translate-gan[community]'"
# The largest difference `translate export` accepts between onnxruntime and PyTorch for these
# networks in fp32 (a quarter of an 8-bit level): onnxruntime runs the attention of SwinIR / HAT at
# batch 1 with a different summation order than PyTorch, about 2e-4 apart on random weights.
EXPORT_TOLERANCE = 1e-3
# Purposes whose model maps an image to an image of the same content: what the pipeline runs.
# FaceSR (aligned 512 px faces) and Inpainting (an image and a mask, other conventions) are not.
_PURPOSES = ("SR", "Restoration")


def is_community(card: ModelCard) -> bool:
    """True when ``card`` describes a network that spandrel rebuilds (arch ``spandrel:<id>``)."""
    return str(card.generator.get("arch", "")).startswith(ARCH_PREFIX)


def _spandrel() -> Any:
    try:
        import spandrel
    except ImportError:
        return None
    return spandrel


def _wrap(descriptor: Any) -> "torch.nn.Module":
    """The descriptor's network as a module whose ``forward(x)`` is what spandrel calls on an
    image (some architectures return a tuple and spandrel keeps its first element)."""
    import torch

    call = getattr(descriptor, "_call_fn", None)

    class SpandrelNet(torch.nn.Module):
        """``(B, C, H, W)`` in [0, 1] -> ``(B, C_out, H*scale, W*scale)`` (not clamped)."""

        def __init__(self, model: torch.nn.Module):
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return call(self.model, x) if call is not None else self.model(x)

    model = descriptor.model
    # SPAN's re-parameterised convolutions re-derive their fused weights from the others in every
    # eval forward (assigning to ``.data``), which torch.export cannot trace (it crashes). The
    # weights are fixed here, so they are derived once and the per-call update skipped.
    for module in model.modules():
        if callable(getattr(module, "update_params", None)):
            module.update_params()
            module.update_params = _nothing
    return SpandrelNet(model)


def _nothing() -> None:
    """Stands in for a module's ``update_params`` once its derived weights are fixed."""


def load(state_dict: dict[str, "torch.Tensor"], path: str | Path) -> tuple["torch.nn.Module", ModelCard] | None:
    """Build the community network of ``state_dict`` (read from ``path``) with spandrel.

    Returns ``(module, card)`` with the module in eval mode on the CPU, or None when spandrel
    is not installed or knows no architecture with these keys (:func:`unknown_hint` says which).
    Raises a one-line :class:`TranslateError` when spandrel recognises the architecture but
    cannot load the weights, or the model is not an image-to-image model the pipeline runs
    (face restoration, inpainting, square inputs, other than 1 or 3 channels).
    """
    path = Path(path)
    spandrel = _spandrel()
    if spandrel is None:
        return None
    try:
        with warnings.catch_warnings():  # e.g. torch.meshgrid's indexing notice while building SwinIR / HAT
            warnings.simplefilter("ignore")
            # (spandrel's registry first strips a "netG." / "module." prefix and unwraps nested dicts)
            descriptor = spandrel.ModelLoader(device="cpu").load_from_state_dict(state_dict)
    except spandrel.UnsupportedModelError:
        return None
    except Exception as e:  # noqa: BLE001 - a detected architecture whose weights do not fit
        reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise TranslateError(f"{path}: looks like a community model but spandrel cannot load it ({reason})") from None
    arch = descriptor.architecture.id
    if descriptor.purpose not in _PURPOSES or not isinstance(descriptor, spandrel.ImageModelDescriptor):
        raise TranslateError(f"{path}: a {arch} {descriptor.purpose} model; translate runs community "
                             f"super-resolution and restoration models only")
    channels = (descriptor.input_channels, descriptor.output_channels)
    if not set(channels) <= {1, 3}:
        raise TranslateError(f"{path}: a {arch} model with {channels[0]} input / {channels[1]} output channels; "
                             f"translate runs RGB (3) or gray (1) models")
    if descriptor.size_requirements.square:
        raise TranslateError(f"{path}: a {arch} model that needs square inputs; translate does not run those")
    return _wrap(descriptor).eval(), card_of(descriptor, path)


def unknown_hint() -> str:
    """What to say about community models when a state dict is of no known architecture."""
    spandrel = _spandrel()
    if spandrel is None:
        return f"community models (ESRGAN, SwinIR, ...) need spandrel: {INSTALL_HINT}"
    return f"not a community architecture spandrel {spandrel.__version__} knows either"


def card_of(descriptor: Any, path: str | Path) -> ModelCard:
    """The :class:`ModelCard` of a spandrel ``ImageModelDescriptor`` loaded from ``path``."""
    path = Path(path)
    requirements = descriptor.size_requirements
    arch = descriptor.architecture.id
    precisions = ["fp32"] + (["fp16"] if descriptor.supports_half else []) + \
        (["bf16"] if descriptor.supports_bfloat16 else [])
    extra: dict[str, Any] = {
        "tiling": descriptor.tiling.name.lower(),
        "precisions": precisions,
        "tags": list(descriptor.tags),
        "export_tolerance": EXPORT_TOLERANCE,
    }
    if requirements.minimum:
        extra["min_side"] = int(requirements.minimum)
    generator = {"arch": ARCH_PREFIX + arch, "input_nc": int(descriptor.input_channels),
                 "output_nc": int(descriptor.output_channels)}
    tags = f" ({', '.join(descriptor.tags)})" if descriptor.tags else ""
    return ModelCard(
        name=path.stem, task="sr" if descriptor.scale > 1 else "restoration", generator=generator,
        mean=0.0, std=1.0, multiple=max(1, int(requirements.multiple_of)), scale=int(descriptor.scale),
        source=str(path), licence="as the file's source", extra=extra,
        description=f"community {arch}{tags} {descriptor.scale}x {descriptor.purpose.lower()} model, loaded by spandrel",
    )


__all__ = ["ARCH_PREFIX", "INSTALL_HINT", "card_of", "is_community", "load", "unknown_hint"]
