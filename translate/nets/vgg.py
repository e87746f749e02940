"""VGG19 features for perceptual (content) losses, loaded from torchvision's local cache only.

The weights are torchvision's ``VGG19_Weights.IMAGENET1K_V1`` file ``vgg19-dcbb9e9d.pth`` in
``$TORCH_HOME/hub/checkpoints/`` (default ``~/.cache/torch/hub/checkpoints/``, see
:func:`vgg19_weights_path`). Nothing is ever downloaded: when the file is missing, building a
:class:`VGGFeatureExtractor` raises a :class:`~translate.errors.TranslateError` that says where
to put it. Random VGG features are never used silently. Only the ``features.*`` tensors up to the requested layer are needed.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from translate.errors import TranslateError

VGG19_FILE = "vgg19-dcbb9e9d.pth"
VGG19_URL = f"https://download.pytorch.org/models/{VGG19_FILE}"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg19_layer_names() -> list[str]:
    """Names of ``torchvision.models.vgg19().features`` modules in order: ``conv1_1``,
    ``relu1_1``, ``conv1_2``, ``relu1_2``, ``pool1``, ``conv2_1``, ... ``relu5_4``, ``pool5``."""
    from torchvision.models.vgg import cfgs

    names, block, conv = [], 1, 0
    for v in cfgs["E"]:
        if v == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:
            conv += 1
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
    return names


def vgg19_weights_path() -> Path:
    """Where torchvision caches the VGG19 ImageNet weights (honours ``$TORCH_HOME``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE


def _missing_weights_error(path: Path) -> TranslateError:
    return TranslateError(
        f"the VGG19 weights for the perceptual loss are not at {path}; this machine does not download them: "
        f"fetch {VGG19_URL} elsewhere and copy it to {path} (or set TORCH_HOME to a folder whose "
        f"hub/checkpoints/ holds it)")


class VGGFeatureExtractor(nn.Module):
    """Frozen VGG19 features up to ``layer`` (e.g. ``"conv5_4"``: before its ReLU, as BasicSR;
    ``"relu5_4"``: after it, as the SRGAN paper; ``"relu2_2"``: as ID-CGAN).

    Input (B, 3, H, W) RGB in [0, 1] (ImageNet normalisation is applied inside); output the
    (B, C, H / 2^k, W / 2^k) feature map. ``weights`` is the torchvision state-dict file
    (default: :func:`vgg19_weights_path`); a missing file raises :class:`TranslateError`.
    """

    def __init__(self, layer: str = "conv5_4", weights: str | Path | None = None):
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        names = vgg19_layer_names()
        if layer not in names:
            raise TranslateError(f"unknown VGG19 layer '{layer}'; use one of {', '.join(names)}")
        depth = names.index(layer) + 1
        features = make_layers(cfgs["E"], batch_norm=False)[:depth]
        path = Path(weights) if weights is not None else vgg19_weights_path()
        if not path.is_file():
            raise _missing_weights_error(path)
        try:
            try:
                state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError:  # legacy (non-zip) files cannot be memory-mapped
                state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise TranslateError(f"{path}: cannot read the VGG19 weights ({type(e).__name__}: "
                                 f"{str(e).splitlines()[0] if str(e) else ''}); replace it with {VGG19_URL}") from None
        wanted = {f"features.{k}": v for k, v in features.state_dict().items()}
        bad = [k for k, v in wanted.items() if k not in state or tuple(state[k].shape) != tuple(v.shape)]
        if bad:
            raise TranslateError(f"{path}: not the torchvision VGG19 weights (missing or misshaped {bad[0]}); "
                                 f"replace it with {VGG19_URL}")
        features.load_state_dict({k[len("features."):]: state[k] for k in wanted})
        self.layer = layer
        self.features = features.eval()
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> "VGGFeatureExtractor":
        super().train(mode)
        self.features.eval()  # frozen: never in training mode
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features((x - self.mean) / self.std)


class PerceptualLoss(nn.Module):
    """L1 (or MSE) distance between VGG19 features of ``output`` and ``target`` (B, 3, H, W) in [0, 1].

    Returns a scalar; gradients flow to ``output`` only.
    """

    def __init__(self, layer: str = "conv5_4", criterion: str = "l1", weights: str | Path | None = None):
        super().__init__()
        if criterion not in ("l1", "mse"):
            raise ValueError(f"criterion must be 'l1' or 'mse', got {criterion!r}")
        self.vgg = VGGFeatureExtractor(layer, weights)
        self.criterion = criterion

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fo = self.vgg(output)
        with torch.no_grad():
            ft = self.vgg(target)
        return F.l1_loss(fo, ft) if self.criterion == "l1" else F.mse_loss(fo, ft)
