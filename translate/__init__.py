"""translate: image-to-image translation with GANs (pix2pix, CycleGAN, SRGAN, ...).

Importing ``translate`` does not import torch; :func:`load` does, unless given an ONNX file.
The package's layers (run, train, export, eval, data, models, nets over a ground floor) are
described in the README's architecture map; this module and :mod:`translate.runtime`,
:mod:`translate.video` and :mod:`translate.serve` are the public import paths.
"""

from __future__ import annotations

from translate.version import DISTRIBUTION, __version__

__all__ = ["__version__", "DISTRIBUTION", "load", "Translator"]


def load(model: str, **kwargs):
    """Load a zoo name, a checkpoint, a shipped model or an ONNX file as a callable translator.

    The returned object maps an (H, W, C) uint8 RGB (or RGBA / gray) array to an array of the
    same height and width (times the model's scale). Keyword arguments are those of
    :func:`translate.run.inference.load` (``device``, ``direction``, ``weights``, ``tile`` ...).
    """
    from translate.run.inference import load as _load

    return _load(model, **kwargs)


def __getattr__(name: str):
    # ``translate.Translator`` (what :func:`load` returns) is imported on first use, so that
    # ``import translate`` (the CLI's first step) stays free of numpy and OpenCV.
    if name == "Translator":
        from translate.run.pipeline import Translator

        return Translator
    raise AttributeError(f"module 'translate' has no attribute {name!r}")
