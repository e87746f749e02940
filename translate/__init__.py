"""translate: image-to-image translation with GANs (pix2pix, CycleGAN, SRGAN, ...).

Importing ``translate`` does not import torch; :func:`load` does, unless given an ONNX file.
"""

from __future__ import annotations

from translate.version import DISTRIBUTION, __version__

__all__ = ["__version__", "DISTRIBUTION", "load"]


def load(model: str, **kwargs):
    """Load a zoo name, a checkpoint, a shipped model or an ONNX file as a callable translator.

    The returned object maps an (H, W, C) uint8 RGB (or RGBA / gray) array to an array of the
    same height and width (times the model's scale). Keyword arguments are those of
    :func:`translate.run.inference.load` (``device``, ``direction``, ``weights``, ``tile`` ...).
    """
    from translate.run.inference import load as _load

    return _load(model, **kwargs)
