"""Result pictures for the README: input | ours | ground truth, one per shipped task.

    python tools/make_figures.py        # writes docs/results_{sr,derain,inpaint}.png

Only the public-domain sample (docs/samples/astronaut_hr.png) is used, so the pictures can be
redistributed: SR from its 4x MATLAB-bicubic downscale, de-raining from synthetic heavy rain (streaks
and mist) of our generator (seed 3), inpainting from a 64x64 centre hole in a 128x128 crop.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

import translate
from translate.data.degradations import add_rain, imresize_matlab, make_mask, random_rain_params
from translate.imageio import read_image, to_uint, write_image
from translate.metrics import psnr

ROOT = Path(__file__).resolve().parents[1]


def label(image: np.ndarray, text: str) -> np.ndarray:
    """uint8 RGB with a caption bar above it."""
    bar = np.full((28, image.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, image])


def sheet(path: Path, panels: list[tuple[str, np.ndarray]], size: int) -> None:
    tiles = [label(cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST), text) for text, img in panels]
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    write_image(path, np.hstack([x for t in tiles for x in (t, gap)][:-1]))
    print(f"wrote {path}")


def main() -> None:
    hr = to_uint(read_image(ROOT / "docs/samples/astronaut_hr.png").rgb)
    docs = ROOT / "docs"

    lr = read_image(ROOT / "docs/samples/astronaut_lr.png").rgb
    ours = translate.load("sr-x4", device="cpu")(to_uint(lr))
    bicubic = to_uint(imresize_matlab(lr, 4.0))
    crop = np.s_[40:296, 150:406]  # the face, where detail shows
    sheet(docs / "results_sr.png", [
        (f"bicubic x4 {psnr(bicubic, hr, crop_border=4, y_channel=True):.2f} dB", bicubic[crop]),
        (f"sr-x4 {psnr(ours, hr, crop_border=4, y_channel=True):.2f} dB", ours[crop]),
        ("ground truth", hr[crop])], 256)

    clean = hr[::2, ::2].copy()  # 256x256
    params = random_rain_params(3, light_fraction=0.0)
    rainy, _ = add_rain(clean, **asdict(params), seed=3)
    rainy = to_uint(rainy) if rainy.dtype != np.uint8 else rainy
    derained = translate.load("derain", device="cpu")(rainy)
    sheet(docs / "results_derain.png", [
        (f"synthetic rain {psnr(rainy, clean, y_channel=True):.2f} dB", rainy),
        (f"derain {psnr(derained, clean, y_channel=True):.2f} dB", derained),
        ("ground truth", clean)], 256)

    face = cv2.resize(hr[40:296, 150:406], (128, 128), interpolation=cv2.INTER_AREA)
    hole = make_mask(128, "centre", np.random.default_rng(0))
    filled = translate.load("inpaint", device="cpu")(face, mask=hole)
    shown = face.copy()
    shown[hole > 0] = 255
    inside = hole > 0
    sheet(docs / "results_inpaint.png", [
        ("input (hole in white)", shown),
        (f"inpaint {psnr(filled[inside], face[inside]):.2f} dB in hole", filled),
        ("ground truth", face)], 256)


if __name__ == "__main__":
    main()
