"""Result pictures for the README: input | ours | ground truth, one per shipped task.

    python tools/figures/make_figures.py        # writes docs/results_{facades,facades_cyclegan,shoes,sr,derain,inpaint}.png
    python tools/figures/make_figures.py --facades-test ../shared/data/paired/facades/test --out out/
        # input | ours | ground truth of facades test items, for local viewing only (not committed)

Only images we may redistribute are committed: facade label maps drawn by tools/figures/draw_facade.py
(seeds 0-2) through facades-label2photo and back through facades-photo2label, and through
facades-cyclegan-label2photo beside facades-label2photo (the CMP facades
images are research data that we do not redistribute); shoe edge maps drawn by tools/figures/draw_shoe.py
(seeds 0-2) through shoes-edges2photo (edges2shoes comes from UT Zappos50K, not redistributed
either); the public-domain sample
(docs/samples/astronaut_hr.png): SR from its 4x MATLAB-bicubic downscale, de-raining from synthetic
heavy rain (streaks and mist) of our generator (seed 3), inpainting from a 64x64 centre hole in a
128x128 crop.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

import translate
from translate.data.degradations import add_rain, imresize_matlab, make_mask, random_rain_params
from translate.data.layouts import split_aligned
from translate.eval.palettes import FACADES, draw, to_classes
from translate.imageio import list_images, read_image, to_uint, write_image
from translate.metrics import psnr

ROOT = Path(__file__).resolve().parents[2]


def label(image: np.ndarray, text: str) -> np.ndarray:
    """uint8 RGB with a caption bar above it."""
    bar = np.full((28, image.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, image])


def row(tiles: list[np.ndarray]) -> np.ndarray:
    """Captioned tiles of one height side by side, 6 white pixels apart."""
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    return np.hstack([x for t in tiles for x in (t, gap)][:-1])


def sheet(path: Path, panels: list[tuple[str, np.ndarray]], size: int) -> None:
    tiles = [label(cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST), text) for text, img in panels]
    write_image(path, row(tiles))
    print(f"wrote {path}")


def facades_figures(path: Path, cyclegan_path: Path) -> None:
    """Drawn label maps (three seeds) -> facades-label2photo -> facades-photo2label at ``path``;
    the same maps through facades-cyclegan-label2photo (unpaired) beside facades-label2photo
    (paired) at ``cyclegan_path``."""
    import sys

    sys.path.insert(0, str(ROOT / "tools" / "figures"))
    from draw_facade import facade_classes

    to_photo, to_labels, unpaired = (translate.load(n, device="cpu") for n in
                                     ("facades-label2photo", "facades-photo2label", "facades-cyclegan-label2photo"))
    rows, cyclegan_rows = [], []
    for seed in range(3):
        ids = facade_classes(seed)
        labels = draw(ids, FACADES)
        photo = to_photo(labels)
        back = to_labels(photo)
        agree = float(np.mean(to_classes(back, FACADES) == ids))
        drawn = label(labels, f"drawn label map (seed {seed})")
        rows.append(row([drawn, label(photo, "facades-label2photo"),
                         label(back, f"photo2label: {100 * agree:.0f}% as drawn")]))
        cyclegan_rows.append(row([drawn, label(unpaired(labels), "CycleGAN, unpaired"),
                                  label(photo, "pix2pix, paired")]))
    for out, sheet_rows in ((path, rows), (cyclegan_path, cyclegan_rows)):
        write_image(out, np.vstack(sheet_rows))
        print(f"wrote {out}")


def shoes_figure(path: Path) -> None:
    """Drawn shoe edge maps -> shoes-edges2photo, three rows of edges | photo."""
    import sys

    sys.path.insert(0, str(ROOT / "tools" / "figures"))
    from draw_shoe import shoe_edges

    to_photo = translate.load("shoes-edges2photo", device="cpu")
    rows = []
    for seed in range(3):
        edges = shoe_edges(seed)
        rows.append(row([label(edges, f"drawn edge map (seed {seed})"), label(to_photo(edges), "shoes-edges2photo")]))
    write_image(path, np.vstack(rows))
    print(f"wrote {path}")


def facades_test_sheets(test: Path, out: Path) -> None:
    """input | ours | ground truth of the first 6 test items per model, written under ``out``."""
    for name in ("facades-photo2label", "facades-label2photo"):
        model = translate.load(name, device="cpu")
        rows = []
        for path in list_images(test)[:6]:
            a, b = split_aligned(to_uint(read_image(path).rgb))
            source, target = (a, b) if model.card.direction == "AtoB" else (b, a)
            rows.append(np.hstack([source, model(source), target]))
        write_image(out / f"{name}_test.png", np.vstack(rows))
        print(f"wrote {out / f'{name}_test.png'}")


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--facades-test", type=Path, help="also write input | ours | ground truth sheets of these "
                                                     "A|B test items (local viewing only)")
    p.add_argument("--out", type=Path, default=ROOT / "out")
    args = p.parse_args()
    if args.facades_test:
        facades_test_sheets(args.facades_test, args.out)
    hr = to_uint(read_image(ROOT / "docs/samples/astronaut_hr.png").rgb)
    docs = ROOT / "docs"
    facades_figures(docs / "results_facades.png", docs / "results_facades_cyclegan.png")
    shoes_figure(docs / "results_shoes.png")

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
