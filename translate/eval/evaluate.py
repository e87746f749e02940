"""Benchmarks behind `translate eval`: score a model against references, per image and on average.

Each task is one function returning an :class:`EvalReport` (methods -> per-image
:class:`Score` rows), so `translate eval <task>` only adds a parser entry and a call; printing
and JSON are shared (:func:`format_report`, :meth:`EvalReport.to_dict`).

Super-resolution (:func:`evaluate_sr`) follows the convention of the published SRResNet / SRGAN
tables: the HR image is cropped to a multiple of ``scale``; LR = MATLAB bicubic
``imresize(HR, 1/scale)`` rounded to uint8 (as an LR image file); the model runs on that LR image
through the same :class:`~translate.run.pipeline.Translator` as `translate run`; bicubic =
``imresize(LR, scale)``. PSNR / SSIM on the Y channel (MATLAB BT.601) and on RGB, ``scale`` pixels
cropped from each border, float64 (:mod:`translate.metrics`). Bicubic on Set5 x4 gives 28.43 dB.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from translate.nets.architectures import GENERATORS
from translate.data.degradations import imresize_matlab, make_lr, modcrop
from translate.errors import TranslateError
from translate.imageio import list_images, read_image, to_uint
from translate.metrics import psnr, ssim

__all__ = ["Score", "HoleScore", "EvalReport", "score_images", "evaluate_sr", "evaluate_derain", "derain_pairs",
           "evaluate_inpaint", "score_hole", "format_report", "sr_pair", "LabelScore", "PhotoScore",
           "evaluate_translation", "confusion", "label_scores"]

METRICS = ("psnr_y", "ssim_y", "psnr_rgb", "ssim_rgb")


@dataclass
class Score:
    """The metrics of one output image against its reference."""

    image: str
    psnr_y: float
    ssim_y: float
    psnr_rgb: float
    ssim_rgb: float


@dataclass
class EvalReport:
    """Per-image scores of each method (e.g. ``"bicubic"``, ``"model"``) on one data set."""

    task: str
    data: str
    settings: dict[str, Any]
    methods: dict[str, list[Any]] = field(default_factory=dict)
    #: attribute names of the rows (a :class:`Score` by default; inpainting rows are :class:`HoleScore`)
    metrics: tuple[str, ...] = METRICS
    #: method -> metric -> value computed over the whole set at once (label-map scores from one
    #: confusion matrix, FID / KID); it replaces the per-image average of that metric
    pooled: dict[str, dict[str, float]] = field(default_factory=dict)

    def mean(self, method: str) -> dict[str, float]:
        """Each metric of ``method`` over the data set: its pooled value where there is one, else
        the average over the images (PSNR averaged in dB, as the tables do)."""
        rows, pooled = self.methods[method], self.pooled.get(method, {})
        return {m: float(pooled[m]) if m in pooled else float(np.mean([getattr(r, m) for r in rows]))
                for m in self.metrics if m in pooled or (rows and hasattr(rows[0], m))}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: task, data, settings, and per method its mean and per-image rows."""
        return {"task": self.task, "data": self.data, "settings": dict(self.settings),
                "methods": {name: {"mean": self.mean(name), "images": [asdict(r) for r in rows]}
                            for name, rows in self.methods.items()}}


def score_images(name: str, output: np.ndarray, reference: np.ndarray, crop_border: int) -> Score:
    """PSNR / SSIM of an (H, W, 3) ``output`` against ``reference`` (uint8 or float in [0, 1]),
    on Y and on RGB, with ``crop_border`` pixels removed from each side."""
    kw = {"crop_border": crop_border}
    return Score(name, psnr(output, reference, y_channel=True, **kw), ssim(output, reference, y_channel=True, **kw),
                 psnr(output, reference, **kw), ssim(output, reference, **kw))


def sr_pair(path: str | os.PathLike, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """``(hr, lr)`` uint8 (H, W, 3) arrays of a benchmark HR image: HR cropped to multiples of
    ``scale``, LR = MATLAB bicubic ``imresize(HR, 1/scale)`` in uint8."""
    rgb = read_image(path).rgb
    hr = modcrop(to_uint(rgb), scale)
    if min(hr.shape[:2]) < 2 * scale:
        raise TranslateError(f"{path}: image is too small for x{scale} evaluation")
    return hr, make_lr(hr, scale)


def _layout_images(data: str | os.PathLike, name: str) -> str | Path:
    """What to list in ``data`` for a benchmark on the images training reads: the training folder of
    the layout ``name`` (:data:`translate.data.layouts.LAYOUTS`; e.g. ``HR/`` of `translate convert sr`
    output, ``images/`` of an inpainting layout) when ``data`` is such a folder, else ``data``
    itself (a folder of images, a file or a glob)."""
    from translate.data.layouts import layout

    if not Path(data).is_dir():
        return data
    declared = layout(name)
    folders = declared.find(data).folders
    return next((folders[role] for role in declared.training_roles if role in folders), data)


def evaluate_sr(model: str | None, data: str | os.PathLike, scale: int = 4, *, device: str = "auto",
                tile: int = 0, bicubic: bool = True) -> EvalReport:
    """Score ``model`` (anything :func:`translate.run.inference.load` accepts; None: bicubic only) and
    bicubic upscaling on the HR images in ``data`` at ``scale``.

    Raises :class:`TranslateError` when ``data`` has no images or the model's scale differs.
    """
    if scale < 1:
        raise TranslateError(f"--scale must be >= 1, got {scale}")
    files = list_images(_layout_images(data, "sr"))
    if not files:
        raise TranslateError(f"{data}: no images found; give a folder of HR images (e.g. Set5)")
    translator = None
    settings: dict[str, Any] = {"scale": scale, "crop_border": scale, "y": "MATLAB BT.601",
                                "lr": "MATLAB bicubic imresize, uint8"}
    if model is not None:
        from translate.run.inference import load

        translator = load(model, device=device)
        card = translator.card
        if card.scale != scale:
            raise TranslateError(f"{model}: the model upscales x{card.scale}, not x{scale}; pass --scale {card.scale}")
        settings["model"] = model
        settings["model_name"] = card.name
    report = EvalReport("sr", str(data), settings)
    if bicubic:
        report.methods["bicubic"] = []
    if translator is not None:
        report.methods["model"] = []
    for path in files:
        hr, lr = sr_pair(path, scale)
        name = Path(path).name
        if bicubic:
            report.methods["bicubic"].append(score_images(name, imresize_matlab(lr, float(scale)), hr, scale))
        if translator is not None:
            out = translator(lr, tile=tile)
            report.methods["model"].append(score_images(name, out, hr, scale))
    return report


def _load_task_model(model: str, task: str, device: str) -> Any:
    from translate.run.inference import load

    translator = load(model, device=device)
    if translator.card.task != task:
        raise TranslateError(f"{model}: is a model for '{translator.card.task}', not for '{task}'")
    return translator


def derain_pairs(input_dir: str | os.PathLike, target_dir: str | os.PathLike) -> list[tuple[Path, Path]]:
    """(rainy, clean) files of two folders, matched as training pairs are (the pairing rule of
    :data:`translate.data.layouts.DERAIN`: rain-001.png <-> norain-001.png, or the same name); a rainy
    file without a clean partner raises TranslateError."""
    from translate.data.layouts import DERAIN

    pairs, errors, _ = DERAIN.pair(list_images(input_dir), list_images(target_dir), DERAIN.folders[1],
                                   Path(input_dir), Path(target_dir))
    if errors:
        raise TranslateError(errors[0])
    return pairs


def evaluate_derain(model: str | None, input_dir: str | os.PathLike, target_dir: str | os.PathLike, *,
                    device: str = "auto", tile: int = 0) -> EvalReport:
    """Score ``model`` (None: the input only) on rainy images against their clean targets.

    Rows ``input`` (the untouched rainy image) and ``model``: PSNR / SSIM on Y (MATLAB BT.601,
    the convention of the Rain100L / Rain100H tables) and on RGB, no border cropped, uint8
    images. A pair of different sizes raises :class:`TranslateError`.
    """
    pairs = derain_pairs(input_dir, target_dir)
    translator = _load_task_model(model, "derain", device) if model is not None else None
    settings: dict[str, Any] = {"y": "MATLAB BT.601", "crop_border": 0}
    if translator is not None:
        settings.update(model=model, model_name=translator.card.name)
    report = EvalReport("derain", str(input_dir), settings, {"input": []})
    if translator is not None:
        report.methods["model"] = []
    for rain_path, clean_path in pairs:
        rainy, clean = (to_uint(read_image(p).rgb) for p in (rain_path, clean_path))
        if rainy.shape != clean.shape:
            raise TranslateError(f"{rain_path} and {clean_path} differ in size; pairs must have one size")
        report.methods["input"].append(score_images(rain_path.name, rainy, clean, 0))
        if translator is not None:
            report.methods["model"].append(score_images(rain_path.name, translator(rainy, tile=tile), clean, 0))
    return report


HOLE_METRICS = ("psnr_hole", "l1_hole")
INPAINT_SIZE = GENERATORS["context_encoder"].fixed_size  # the crop the context encoder sees (128)


@dataclass
class HoleScore:
    """Inpainting scores inside the hole: PSNR (RGB, dB) and mean absolute error (RGB, in [0, 1])."""

    image: str
    psnr_hole: float
    l1_hole: float


def score_hole(name: str, output: np.ndarray, reference: np.ndarray, hole: np.ndarray) -> HoleScore:
    """PSNR and L1 of (H, W, 3) uint8 ``output`` against ``reference`` over the pixels where the
    (H, W) bool ``hole`` is True."""
    diff = output[hole].astype(np.float64) - reference[hole].astype(np.float64)
    mse = float(np.mean(diff ** 2))
    return HoleScore(name, 10 * math.log10(255.0 ** 2 / mse) if mse > 0 else math.inf,
                     float(np.mean(np.abs(diff))) / 255.0)


def centre_crop(rgb: np.ndarray, size: int, path: str | os.PathLike) -> np.ndarray:
    """The central (size, size) crop of an (H, W, 3) image; smaller images raise TranslateError."""
    h, w = rgb.shape[:2]
    if h < size or w < size:
        raise TranslateError(f"{path}: image is {w}x{h}; inpainting evaluation needs at least {size}x{size}")
    top, left = (h - size) // 2, (w - size) // 2
    return rgb[top:top + size, left:left + size]


def evaluate_inpaint(model: str | None, data: str | os.PathLike, *, device: str = "auto") -> EvalReport:
    """Score ``model`` (None: baselines only) on the centre 128x128 crop of each image of ``data``
    with the 64x64 centre hole (Context Encoders' setting), inside the hole.

    Rows: ``mean_fill`` (the hole filled with the mean colour of the crop's known pixels),
    ``telea`` (OpenCV ``cv2.inpaint`` with ``INPAINT_TELEA``, radius 5) and ``model``.
    """
    import cv2

    from translate.data.degradations import make_mask

    files = list_images(_layout_images(data, "inpaint"))
    if not files:
        raise TranslateError(f"{data}: no images found")
    translator = _load_task_model(model, "inpaint", device) if model is not None else None
    hole = make_mask(INPAINT_SIZE, "centre") > 0
    settings: dict[str, Any] = {"crop": f"centre {INPAINT_SIZE}x{INPAINT_SIZE}", "hole": "centre 64x64",
                                "telea_radius": 5}
    if translator is not None:
        settings.update(model=model, model_name=translator.card.name)
    report = EvalReport("inpaint", str(data), settings, {"mean_fill": [], "telea": []}, metrics=HOLE_METRICS)
    if translator is not None:
        report.methods["model"] = []
    for path in files:
        image = read_image(path)
        if image.gray:
            raise TranslateError(f"{path}: is a 1-channel (gray) image; inpainting evaluation needs RGB images")
        crop = to_uint(centre_crop(image.rgb, INPAINT_SIZE, path))
        name = Path(path).name
        mean_fill = crop.copy()
        mean_fill[hole] = np.round(crop[~hole].reshape(-1, 3).mean(0)).astype(np.uint8)
        report.methods["mean_fill"].append(score_hole(name, mean_fill, crop, hole))
        telea = cv2.inpaint(crop, hole.astype(np.uint8) * 255, 5, cv2.INPAINT_TELEA)
        report.methods["telea"].append(score_hole(name, telea, crop, hole))
        if translator is not None:
            masked = crop.copy()
            masked[hole] = 255  # what a user's image with a white-painted hole looks like; never seen by the net
            report.methods["model"].append(score_hole(name, translator(masked, mask=hole), crop, hole))
    return report


def _fmt(v: float | None, metric: str) -> str:
    if v is None:
        return "-"
    if metric.startswith("psnr") or metric == "fid":
        return "inf" if math.isinf(v) else f"{v:.2f}"
    return f"{v:.4f}"


def format_report(report: EvalReport, per_image: bool = True) -> str:
    """A plain-text table: one line per image and method (when ``per_image``), then the means."""
    metrics = report.metrics
    head = f"{'image':<24} {'method':<10} " + " ".join(f"{m:>9}" for m in metrics)
    lines = [f"{report.task} on {report.data} " + " ".join(f"{k}={v}" for k, v in report.settings.items()), head]
    if per_image:
        names = [r.image for r in next(iter(report.methods.values()), [])]
        for i, name in enumerate(names):
            for method, rows in report.methods.items():
                lines.append(f"{name[:24]:<24} {method:<10} " + " ".join(
                    f"{_fmt(getattr(rows[i], m, None), m):>9}" for m in metrics))
    n = len(next(iter(report.methods.values()), []))
    # ALL: every number is computed over the whole set at once; MEAN: (some are) per-image averages
    pooled = all(set(metrics) <= set(report.pooled.get(m, {})) for m in report.methods)
    label = f"{'ALL' if pooled else 'MEAN'} ({n} images)"
    for method in report.methods:
        mean = report.mean(method)
        lines.append(f"{label:<24} {method:<10} " + " ".join(f"{_fmt(mean.get(m), m):>9}" for m in metrics))
    return "\n".join(lines)


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
                         device: str = "auto", tile: int = 0, predictions: str | os.PathLike | None = None,
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
            out = translator(source, tile=tile)
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
        from translate.eval.fid import fid_kid
        from translate.device import resolve_device

        scores = fid_kid(real_targets, outputs, weights=inception_weights, device=resolve_device(device))
        report.pooled = {method: {"fid": s["fid"], "kid": s["kid"]} for method, s in scores.items()}
        settings["fid"] = f"torchmetrics FID / KID, Inception 2015-12-05 pool features, {len(real_targets)} real images"
    return report
