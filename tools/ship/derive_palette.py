"""Derive the class colours of a label-map dataset from its training label maps, and check them.

    python tools/ship/derive_palette.py ../shared/data/paired/facades/train --classes 12 --half B \
        [--check ../shared/data/paired/facades/test] [--names background,facade,...] [-o palette.json]

Prints the colours found by :func:`translate.eval.palettes.derive_palette` (most frequent first) and, with
``--check``, how cleanly the label maps of another split map onto them: the share of pixels within
10 / 30 / 60 RGB levels of their nearest palette colour. ``-o`` writes a palette JSON file that
`translate eval translation --palette FILE` reads. This is how ``translate.eval.palettes.FACADES`` was made.
"""

from __future__ import annotations

import argparse

import numpy as np

from translate.data.layouts import split_aligned
from translate.eval.palettes import Palette, derive_palette, flat_pixels
from translate.fileio import atomic_write_text
from translate.imageio import list_images, read_image, to_uint


def label_maps(folder: str, half: str) -> list[np.ndarray]:
    """The label halves (``A`` or ``B``) of the A|B images in ``folder`` as uint8 RGB arrays."""
    return [to_uint(split_aligned(read_image(p).rgb)["AB".index(half)]) for p in list_images(folder)]


# matplotlib's jet: (x, value) breakpoints of the red, green and blue ramps.
_JET = {0: [(0, 0), (0.35, 0), (0.66, 1), (0.89, 1), (1, 0.5)],
        1: [(0, 0), (0.125, 0), (0.375, 1), (0.64, 1), (0.91, 0), (1, 0)],
        2: [(0, 0.5), (0.11, 1), (0.34, 1), (0.65, 0), (1, 0)]}


def jet_position(colour: np.ndarray) -> float:
    """Where along the jet colour map (0: dark blue .. 1: dark red) ``colour`` (RGB uint8) lies."""
    xs = np.linspace(0, 1, 1001)
    curve = np.stack([np.interp(xs, *zip(*_JET[c])) for c in range(3)], axis=1) * 255
    return float(xs[np.argmin(((curve - colour.astype(float)) ** 2).sum(1))])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("train_dir")
    p.add_argument("--classes", type=int, required=True)
    p.add_argument("--half", choices=("A", "B"), default="B", help="which half of the A|B files is the label map")
    p.add_argument("--check", help="a folder of A|B files whose label maps are checked against the palette")
    p.add_argument("--names", help="comma-separated class names, in jet / id order")
    p.add_argument("-o", "--output", help="write the palette as JSON")
    args = p.parse_args()
    colours = derive_palette(label_maps(args.train_dir, args.half), args.classes)
    # Datasets drawn with the jet colour map (facades) give class k the k-th colour along it.
    colours = colours[np.argsort([jet_position(c) for c in colours])]
    names = args.names.split(",") if args.names else [f"class{i}" for i in range(len(colours))]
    palette = Palette("derived", tuple(names), colours)
    for name, c in zip(palette.classes, palette.colours):
        print(f"{name:<12} {tuple(int(v) for v in c)}")
    if args.check:
        maps = label_maps(args.check, args.half)
        pixels = np.concatenate([m.reshape(-1, 3) for m in maps]).astype(np.float32)
        flat = np.concatenate([flat_pixels(m).ravel() for m in maps])
        dist = np.sqrt(((pixels[:, None, :] - palette.colours[None].astype(np.float32)) ** 2).sum(2)).min(1)
        for name, sel in (("all", slice(None)), ("flat (away from class borders)", flat)):
            shares = ", ".join(f"{100 * np.mean(dist[sel] <= t):.3f}% within {t}" for t in (10, 30, 60))
            print(f"{args.check}, {name} pixels ({dist[sel].size}): {shares} levels of a palette colour")
    if args.output:
        atomic_write_text(args.output, palette.to_json() + "\n")


if __name__ == "__main__":
    main()
