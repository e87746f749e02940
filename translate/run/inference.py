"""A model as a translator: the PyTorch network wrapped as a backend of the shared image pipeline.

:func:`load` is what `translate run`, :func:`translate.load` and `translate serve` call: the
network and its card come from :func:`translate.models.loading.load_model` (so a name or file
means the same thing everywhere); ONNX files are handed to the torch-free
:mod:`translate.run.runtime` before torch is imported.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from translate.device import resolve_device
from translate.errors import TranslateError
from translate.models.loading import load_model, source_weights_file
from translate.run.pipeline import Translator


class TorchBackend:
    """A pipeline backend running a PyTorch module: (B, C, H, W) float32 numpy -> numpy.

    ``dtype`` (default float32) is the dtype of the module's weights (see
    :func:`translate.precision.inference_dtype`): each batch is cast to it on ``device`` and the
    output back to float32. ``per_image`` runs the items of a batch one at a time (for
    BatchNorm on each image's own statistics, :func:`translate.nets.layers.reference_test_mode`)."""

    def __init__(self, net: Any, device: str = "cpu", dtype: Any = None, per_image: bool = False):
        self.net = net
        self.device = device
        self.dtype = dtype
        self.per_image = per_image

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(x)).to(self.device, self.dtype)
            y = torch.cat([self.net(t[i:i + 1]) for i in range(len(t))]) if self.per_image else self.net(t)
        return y.float().cpu().numpy()


def load(spec: str, *, device: str = "auto", direction: str | None = None, weights_file: str | None = None,
         arch: str | None = None, norm: str | None = None, precision: str = "fp32",
         bn_train_mode: bool = False) -> Translator:
    """A :class:`~translate.run.pipeline.Translator` for ``spec`` (see :func:`load_model`).

    ``precision`` (``fp32``, ``fp16`` on a GPU, ``bf16``) casts the network and its inputs
    (:func:`translate.precision.inference_dtype`). ``bn_train_mode`` runs the network as the
    reference pix2pix ``test.py`` does without ``--eval``: BatchNorm on each image's (or tile's)
    own statistics and Dropout active, so outputs are random
    (:func:`translate.nets.layers.reference_test_mode`); the default is eval mode. A path
    ending in ``.onnx`` runs on onnxruntime through :mod:`translate.run.runtime` and never imports
    torch; its precision is the one it was exported in.
    """
    if str(spec).lower().endswith(".onnx"):
        from translate.run.runtime import Session

        if direction or weights_file or arch or norm:
            raise TranslateError("--direction/--weights/--arch/--norm do not apply to an ONNX file")
        if precision != "fp32":
            raise TranslateError(f"--precision {precision} applies to PyTorch models; an .onnx model runs in the "
                                 f"precision it was exported in (translate export --fp16 for half precision)")
        if bn_train_mode:
            raise TranslateError("--bn-train-mode applies to PyTorch models; an .onnx model is exported in eval mode")
        return Session(spec, device=device)
    from translate.nets.layers import reference_test_mode
    from translate.precision import PRECISIONS, inference_dtype

    device = resolve_device(device)
    if precision != "fp32":  # refused before the (possibly long) load when the device cannot do it
        inference_dtype(precision, device)
    net, card = load_model(spec, direction=direction, weights_file=weights_file, arch=arch, norm=norm,
                           device=device)
    dtype = inference_dtype(precision, device, card.extra.get("precisions", PRECISIONS), f"{card.name} ({card.arch})")
    if bn_train_mode and not reference_test_mode(net):
        print(f"translate: warning: {card.name} has no BatchNorm or Dropout layers; --bn-train-mode changes nothing",
              file=sys.stderr)
    return Translator(TorchBackend(net.to(dtype), device, dtype, per_image=bn_train_mode), card, device=device,
                      model_file=source_weights_file(spec, weights_file))
