"""FID and KID between two sets of images, through torchmetrics (optional extra ``translate-gan[fid]``).

Why torchmetrics: it is maintained with PyTorch Lightning, computes FID (Heusel et al. 2017) and
KID (Binkowski et al. 2018) from one shared feature extractor, and its Inception network is
torch-fidelity's port of the TensorFlow ``inception-2015-12-05`` graph that the published FID
numbers use (pytorch-fid / clean-fid use the same weights); clean-fid would add a second download
format and its own folder walking. The weights (``weights-inception-2015-12-05-6726825d.pth``,
95 MB) are downloaded on first use into translate's cache (:func:`translate.models.weights.cache_dir`),
checked against the SHA-256 prefix in their name, and reused offline; without network, a one-line
error says where to place the file (or pass it with ``--inception-weights FILE``).

Images are uint8 RGB; torchmetrics resizes them to 299x299 (TensorFlow-compatible bilinear) inside
the network. With fewer than a few thousand images FID is biased upwards; KID (unbiased, reported
as mean and standard deviation over subsets) is the fairer number for a 106-image test split.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from translate.errors import TranslateError
from translate.models.checkpoint import load_torch_file
from translate.models.weights import cache_dir, fetch_url

__all__ = ["INCEPTION_URL", "inception_weights_path", "inception_weights", "fid_kid"]

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = f"https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/{INCEPTION_FILE}"
INCEPTION_SHA256_PREFIX = "6726825d"


def inception_weights_path() -> Path:
    """Where the FID Inception weights live in the cache (whether or not they are there yet)."""
    return cache_dir() / "weights" / "metrics" / INCEPTION_FILE


def inception_weights(weights: str | Path | None = None, *, progress: bool = True) -> Path:
    """The Inception weights file: ``weights`` as given (``--inception-weights FILE``), else the
    cached download (fetched on first use; offline, a one-line error names the file to place)."""
    if weights is not None:
        weights = Path(weights)
        if not weights.is_file():
            raise TranslateError(f"--inception-weights {weights}: no such file")
        return weights
    return fetch_url(INCEPTION_URL, inception_weights_path(), sha256=INCEPTION_SHA256_PREFIX,
                     desc="the FID Inception weights", progress=progress, hint=" or pass --inception-weights FILE")


def _modules():
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance, NoTrainInceptionV3
        from torchmetrics.image.kid import KernelInceptionDistance
    except ImportError:
        raise TranslateError("FID / KID need the optional packages torchmetrics and torch-fidelity: "
                             "pip install 'translate-gan[fid]'") from None
    return FrechetInceptionDistance, KernelInceptionDistance, NoTrainInceptionV3


def fid_kid(real: list[np.ndarray], fakes: dict[str, list[np.ndarray]], *, weights: str | Path | None = None,
            device: str = "cpu", progress: bool = True, batch: int = 16) -> dict[str, dict[str, float]]:
    """``{name: {"fid", "kid", "kid_std"}}`` of each image set in ``fakes`` against ``real``; all
    are lists of (H, W, 3) uint8 RGB images (sizes may differ). The real features are computed
    once. KID uses subsets of ``min(1000, len(real), len(fake))`` images. ``weights``
    (``--inception-weights FILE``) is used as given instead of the cached download.

    Raises :class:`TranslateError` when a set has fewer than 2 images, the optional packages are
    missing, or the Inception weights can neither be found nor downloaded.
    """
    import torch

    for name, images in {"real": real, **fakes}.items():
        if len(images) < 2:
            raise TranslateError(f"FID / KID need at least 2 images per set, got {len(images)} ({name})")
    FID, KID, Inception = _modules()
    weights = inception_weights(weights, progress=progress)
    # torch-fidelity unpickles the file with weights_only=False: read it safely first, so a file
    # holding anything but tensors is refused before any of its code could run.
    load_torch_file(weights)
    try:
        net = Inception(name="inception-v3-compat", features_list=["2048"],
                        feature_extractor_weights_path=str(weights)).to(device)
    except Exception as e:  # noqa: BLE001 - a damaged or foreign file placed by hand
        raise TranslateError(f"{weights}: not the FID Inception weights ({type(e).__name__}); delete it to "
                             f"download it again from {INCEPTION_URL}") from None
    scores = {}
    with torch.no_grad():
        real_features = _inception_features(net, real, device, batch)
        for name, images in fakes.items():
            # Features are computed once per image and fed to both metrics through a pass-through
            # "network" (torchmetrics accepts any module as its feature extractor).
            fid = FID(feature=_pass_through()).to(device)
            with warnings.catch_warnings():  # KID's notice that it keeps every feature in memory
                warnings.simplefilter("ignore", UserWarning)
                kid = KID(feature=_pass_through(), subset_size=min(1000, len(real), len(images))).to(device)
            fake_features = _inception_features(net, images, device, batch)
            for metric in (fid, kid):
                metric.update(real_features, real=True)
                metric.update(fake_features, real=False)
            kid_mean, kid_std = kid.compute()
            scores[name] = {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}
    return scores


def _inception_features(net: "torch.nn.Module", images: list[np.ndarray], device: str, batch: int) -> "torch.Tensor":
    """(N, 2048) Inception pool features of uint8 (H, W, 3) images, batched by equal size."""
    import torch

    out = []
    for i in range(0, len(images), batch):
        group = images[i:i + batch]
        chunks = [group] if len({im.shape for im in group}) == 1 else [[im] for im in group]
        for chunk in chunks:
            x = torch.from_numpy(np.stack(chunk)).permute(0, 3, 1, 2).contiguous().to(device)
            out.append(net(x).reshape(len(chunk), -1))
    return torch.cat(out)


def _pass_through() -> "torch.nn.Module":
    """A feature "extractor" for precomputed (N, 2048) features: returns its input (torch is
    imported only when FID runs, so the class is built here)."""
    import torch

    class Features(torch.nn.Module):
        num_features = 2048

        def forward(self, x: "torch.Tensor") -> "torch.Tensor":
            return x

    return Features()
