"""Paired translation benchmark behind `translate eval translation`: a model on a test split of A|B images.

:func:`evaluate_translation` scores label-map outputs by per-pixel accuracy, mean class accuracy
and mean class IoU pooled over the split (:func:`confusion`, :func:`label_scores`: the FCN score of
pix2pix / CycleGAN; :class:`LabelScore` rows), and photo outputs by PSNR / SSIM (RGB) and L1 per
image (:class:`PhotoScore` rows), optionally with FID / KID (:mod:`translate.eval.fid`); next to the
baselines of a training split (majority class, nearest-neighbour retrieval), the input itself and
predictions made elsewhere, in an :class:`~translate.eval.report.EvalReport`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from translate.errors import TranslateError
from translate.eval.report import EvalReport
from translate.imageio import list_images, read_image, to_uint
from translate.metrics import psnr, ssim

__all__ = ["LabelScore", "PhotoScore", "evaluate_translation", "confusion", "label_scores"]


# ---------------------------------------------------------------------------- translation

LABEL_METRICS = ("pixel_acc", "class_acc", "iou")
PHOTO_METRICS = ("psnr_rgb", "ssim_rgb", "l1")
FID_METRICS = ("fid", "kid")
RETRIEVAL_SIZE = 32  # side of the thumbnails nearest-neighbour retrieval compares


@dataclass
class LabelScore:
    """Label-map scores of one image: per-pixel accuracy, mean per-class accuracy and mean class
    IoU over the classes present in its ground truth or output."""

    image: str
    pixel_acc: float
    class_acc: float
    iou: float


@dataclass
class PhotoScore:
    """Photo scores of one image against the real photo: PSNR / SSIM on RGB and mean absolute
    error (in [0, 1])."""

    image: str
    psnr_rgb: float
    ssim_rgb: float
    l1: float


def confusion(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """(K, K) int64 pixel counts: row = true class, column = predicted class, of two (H, W) maps."""
    return np.bincount(truth.ravel() * classes + predicted.ravel(), minlength=classes * classes).reshape(
        classes, classes)


def label_scores(matrix: np.ndarray) -> dict[str, float]:
    """``pixel_acc``, ``class_acc`` and ``iou`` of a (K, K) confusion matrix, as the FCN score of
    pix2pix / CycleGAN computes them: class accuracy over the classes present in the truth, IoU
    over the classes present in the truth or the prediction (others are not averaged)."""
    hits = np.diag(matrix).astype(np.float64)
    truth, predicted = matrix.sum(1), matrix.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        class_acc = hits / truth
        iou = hits / (truth + predicted - hits)
    return {"pixel_acc": float(hits.sum() / matrix.sum()), "class_acc": float(np.nanmean(class_acc)),
            "iou": float(np.nanmean(iou))}


def _thumbnail(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(rgb, (RETRIEVAL_SIZE, RETRIEVAL_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()


class _Retrieval:
    """Baselines from a training split: nearest-neighbour retrieval (the training target whose
    input is closest, L2 on 32x32 thumbnails) and the majority class of the training targets."""

    def __init__(self, files: list[Path], direction: str, palette: Any):
        from translate.data.layouts import split_aligned
        from translate.eval.palettes import to_classes

        self.keys, self.targets = [], []
        counts = np.zeros(len(palette) if palette is not None else 1, np.int64)
        for path in files:
            a, b = split_aligned(to_uint(read_image(path).rgb), str(path))
            source, target = (a, b) if direction == "AtoB" else (b, a)
            self.keys.append(_thumbnail(source))
            self.targets.append(target)
            if palette is not None:
                counts += np.bincount(to_classes(target, palette).ravel(), minlength=len(palette))
        self.keys_matrix = np.stack(self.keys)
        self.majority = int(counts.argmax())

    def nearest(self, source: np.ndarray, size: tuple[int, int], nearest_pixels: bool) -> np.ndarray:
        """The training target of the input nearest to ``source``, resized to (H, W) ``size``."""
        import cv2

        best = int(((self.keys_matrix - _thumbnail(source)) ** 2).sum(1).argmin())
        target = self.targets[best]
        if target.shape[:2] != size:
            # label maps: no blended colours at class borders
            target = cv2.resize(target, size[::-1], interpolation=cv2.INTER_NEAREST if nearest_pixels
                                else cv2.INTER_AREA)
        return target


def _prediction_files(folder: str | os.PathLike, suffix: str, files: list[Path]) -> dict[str, Path]:
    """Map each test file's name to its prediction in ``folder``: stem + ``suffix``, any image extension."""
    found: dict[str, list[Path]] = {}
    for path in list_images(folder):
        found.setdefault(path.stem, []).append(path)
    matched: dict[str, Path] = {}
    for path in files:
        candidates = found.get(Path(path).stem + suffix, [])
        if len(candidates) != 1:
            what = "no image" if not candidates else f"{len(candidates)} images ({', '.join(c.name for c in candidates)})"
            raise TranslateError(f"--predictions {folder}: {what} named '{Path(path).stem}{suffix}.*' for test file "
                                 f"{Path(path).name}; give one prediction per test file (--prediction-suffix "
                                 f"'{suffix}')")
        matched[Path(path).name] = candidates[0]
    return matched


def evaluate_translation(model: str | None, data: str | os.PathLike, *, direction: str | None = None,
                         palette: str | os.PathLike | None = None, train_data: str | os.PathLike | None = None,
                         fid: bool = False, inception_weights: str | os.PathLike | None = None,
                         device: str = "auto", tile: int = 0, tile_overlap: int = 32, predictions: str | os.PathLike | None = None,
                         prediction_suffix: str = "", bn_train_mode: bool = False) -> EvalReport:
    """Score ``model`` (None: baselines only) on a paired test split: a folder of A|B images.

    The input half is A for ``direction`` AtoB, B for BtoA (default: the model card's direction).
    With a ``palette`` (a name such as ``facades`` or a JSON file; default: the card's
    ``extra["palette"]``) the target is a label map: output and ground-truth pixels are mapped to
    the nearest palette colour, and per-pixel accuracy, mean per-class accuracy and mean class IoU
    are pooled over the split's pixels (the CycleGAN paper's photo -> labels protocol). Otherwise
    the target is a photo: PSNR / SSIM (RGB) and L1 per image, and with ``fid`` FID / KID of the
    outputs against the split's real targets (:mod:`translate.eval.fid`). Baseline rows: the
    majority class of the training label maps and nearest-neighbour retrieval of a training
    target (``train_data``, an A|B folder; default: ``train/`` beside ``data``), and for photos
    the input itself. ``predictions`` scores outputs made elsewhere (another tool, an earlier run)
    as one more row: a folder holding, for every test file ``NAME.EXT``, an image named ``NAME``
    + ``prediction_suffix`` with any image extension (``_fake_B`` for the reference
    implementation's ``test.py`` results), the size of the target. ``bn_train_mode`` runs the
    model as that ``test.py`` does by default (see :func:`translate.run.inference.load`).
    """
    from translate.data.layouts import split_aligned
    from translate.eval.palettes import draw, load_palette, to_classes

    files = list_images(data)
    if not files:
        raise TranslateError(f"{data}: no images found; give a folder of A|B side-by-side test images")
    translator = None
    if model is not None:
        from translate.run.inference import load

        translator = load(model, device=device, direction=direction, bn_train_mode=bn_train_mode)
        direction = direction or translator.card.direction
        palette = palette if palette is not None else (translator.card.extra or {}).get("palette")
    direction = direction or "AtoB"
    if direction not in ("AtoB", "BtoA"):
        raise TranslateError(f"--direction must be AtoB or BtoA, got '{direction}'")
    labels = load_palette(palette) if palette not in (None, "", "none") else None
    if train_data is None and (Path(data).parent / "train").is_dir() and Path(data).name != "train":
        train_data = Path(data).parent / "train"
    retrieval = None
    if train_data is not None:
        train_files = list_images(train_data)
        if not train_files:
            raise TranslateError(f"--train-data {train_data}: no images found; give the A|B training split")
        retrieval = _Retrieval(train_files, direction, labels)

    predicted = _prediction_files(predictions, prediction_suffix, files) if predictions is not None else None

    settings: dict[str, Any] = {"direction": direction, "target": f"labels ({labels.name})" if labels else "photo"}
    if translator is not None:
        settings.update(model=model, model_name=translator.card.name)
        if bn_train_mode:
            settings["mode"] = "train-mode batch norm and dropout (reference test.py without --eval)"
    if predicted is not None:
        settings["predictions"] = str(predictions)
    if train_data is not None:
        settings["train_data"] = str(train_data)
    methods = ["model"] if translator is not None else []
    if predicted is not None:
        methods.append("predictions")
    if retrieval is not None:
        methods += (["majority"] if labels else []) + ["nearest"]
    if not labels:
        methods.append("input")
    if not methods:
        raise TranslateError("nothing to evaluate: give --model, or --train-data for the baselines")
    report = EvalReport("translation", str(data), settings, {m: [] for m in methods},
                        metrics=LABEL_METRICS if labels else PHOTO_METRICS + (FID_METRICS if fid else ()))
    matrices = {m: np.zeros((len(labels), len(labels)), np.int64) for m in methods} if labels else {}
    outputs: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    real_targets: list[np.ndarray] = []
    for path in files:
        a, b = split_aligned(to_uint(read_image(path).rgb), str(path))
        source, target = (a, b) if direction == "AtoB" else (b, a)
        name = Path(path).name
        produced: dict[str, np.ndarray] = {}
        if translator is not None:
            out = translator(source, tile=tile, tile_overlap=tile_overlap)
            if out.shape[:2] != target.shape[:2]:
                raise TranslateError(f"{model}: gives {out.shape[1]}x{out.shape[0]} outputs for {name}, whose "
                                     f"target is {target.shape[1]}x{target.shape[0]}; is it a translation model?")
            produced["model"] = out[..., :3] if out.ndim == 3 else np.repeat(out[..., None], 3, axis=2)
        if predicted is not None:
            image = to_uint(read_image(predicted[name]).rgb)
            if image.shape[:2] != target.shape[:2]:
                raise TranslateError(f"{predicted[name]}: {image.shape[1]}x{image.shape[0]}, but the target of {name} is "
                                     f"{target.shape[1]}x{target.shape[0]}; give predictions at the target's size")
            produced["predictions"] = image  # Image.rgb is (H, W, 3) whatever the file held
        if retrieval is not None:
            if labels:
                produced["majority"] = draw(np.full(target.shape[:2], retrieval.majority), labels)
            produced["nearest"] = retrieval.nearest(source, target.shape[:2], nearest_pixels=labels is not None)
        if not labels:
            produced["input"] = source
        if labels:
            truth = to_classes(target, labels)
            for method, image in produced.items():
                matrix = confusion(truth, to_classes(image, labels), len(labels))
                matrices[method] += matrix
                report.methods[method].append(LabelScore(name, **label_scores(matrix)))
        else:
            real_targets.append(target)
            for method, image in produced.items():
                l1 = float(np.mean(np.abs(image.astype(np.float64) - target))) / 255.0
                report.methods[method].append(PhotoScore(name, psnr(image, target), ssim(image, target), l1))
                if fid:
                    outputs[method].append(image)
    if labels:
        report.pooled = {m: label_scores(matrix) for m, matrix in matrices.items()}
        settings["classes"] = ",".join(labels.classes)
    if fid:
        from translate.device import resolve_device
        from translate.eval.fid import fid_kid

        scores = fid_kid(real_targets, outputs, weights=inception_weights, device=resolve_device(device))
        report.pooled = {method: {"fid": s["fid"], "kid": s["kid"]} for method, s in scores.items()}
        settings["fid"] = f"torchmetrics FID / KID, Inception 2015-12-05 pool features, {len(real_targets)} real images"
    return report
