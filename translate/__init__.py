"""translate: image-to-image translation with GANs (pix2pix, CycleGAN, SRGAN, ...).

Importing ``translate`` does not import torch; :func:`load` does, unless given an ONNX file.
"""

from __future__ import annotations

__version__ = "0.1.0"
#: The distribution name on PyPI: `translate` there is an unrelated text-translation CLI that also
#: installs a `translate` module and command, so the two cannot share one environment.
DISTRIBUTION = "translate-gan"

__all__ = ["__version__", "DISTRIBUTION", "load"]


def load(model: str, **kwargs):
    """Load a zoo name, a checkpoint, a shipped model or an ONNX file as a callable translator.

    The returned object maps an (H, W, C) uint8 RGB (or RGBA / gray) array to an array of the
    same height and width (times the model's scale). Keyword arguments are those of
    :func:`translate.inference.load` (``device``, ``direction``, ``weights``, ``tile`` ...).
    """
    from translate.inference import load as _load

    return _load(model, **kwargs)
