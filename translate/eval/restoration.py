"""Restoration benchmarks behind `translate eval sr`, `derain` and `inpaint`.

Each task scores a model and its simple baselines against clean references, per image, in an
:class:`~translate.eval.report.EvalReport`: :func:`evaluate_sr` (next to bicubic) and
:func:`evaluate_derain` (next to the rainy input) by PSNR / SSIM on Y and on RGB
(:class:`~translate.eval.report.Score` rows), :func:`evaluate_inpaint` (next to a mean-colour fill
and OpenCV Telea) by PSNR / L1 inside the hole (:class:`HoleScore` rows).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from translate.data.degradations import imresize_matlab, make_lr, modcrop
from translate.errors import TranslateError
from translate.eval.report import EvalReport, Score
from translate.imageio import list_images, read_image, to_uint
from translate.metrics import psnr, ssim
from translate.nets.architectures import GENERATORS

__all__ = ["HoleScore", "score_images", "evaluate_sr", "evaluate_derain", "derain_pairs", "evaluate_inpaint",
           "score_hole", "sr_pair"]


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
                tile: int = 0, tile_overlap: int = 32, bicubic: bool = True) -> EvalReport:
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
            out = translator(lr, tile=tile, tile_overlap=tile_overlap)
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
                    device: str = "auto", tile: int = 0, tile_overlap: int = 32) -> EvalReport:
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
            report.methods["model"].append(score_images(rain_path.name, translator(rainy, tile=tile, tile_overlap=tile_overlap),
                                                                     clean, 0))
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
