"""Side-by-side figure: one row per input image, input | model 1 | model 2 | ..., labelled columns.

    python tools/figures/side_by_side.py ../shared/data/unpaired/horse2zebra/testA --limit 6 --size 144 \\
        --model CycleGAN=runs/h2z-cyclegan --model CUT=runs/h2z-cut --model FastCUT=runs/h2z-fastcut \\
        -o out/h2z_side_by_side.png

Inputs: image files, folders (their images, sorted) or glob patterns; ``--limit N`` keeps the first
N. Each ``--model LABEL=SPEC`` is anything ``translate.load`` takes (zoo name, run folder,
checkpoint, .safetensors, .onnx); without ``LABEL=`` the column is named after SPEC. ``--size S``
resizes every input to S x S (area interpolation) before the models see it, for models trained at
another scale than the files' (the horse2zebra runs of tools/ship/train_horse2zebra.sh train on
128x128 crops of images resized to 143: --size 144); the input column shows exactly what the models were given. Every cell is shown
at ``--cell`` px (nearest-neighbour, so no pixel is smoothed), the column labels above the first
row. The figure (.png, or .jpg at quality 85) is written atomically; the inputs are never overwritten. The models run through the
package's public API (``translate.load`` and the returned translator), as a user's code would.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
# the caption bar and tile row of every figure in docs/ (one home: make_figures.py)
from make_figures import label, row

import translate
from translate.errors import TranslateError
from translate.imageio import list_images, read_image, to_uint, write_image

ROW_GAP = 6  # white pixels between rows, as between the columns of make_figures.row


def parse_model(text: str) -> tuple[str, str]:
    """``LABEL=SPEC`` -> (label, spec); a bare SPEC is labelled with its file or zoo name."""
    label_text, sep, spec = text.partition("=")
    if not sep:
        spec = text
        label_text = Path(text.rstrip("/")).name or text
    if not spec or not label_text:
        raise TranslateError(f"--model {text!r}: give LABEL=SPEC or SPEC (a zoo name, run folder, checkpoint or .onnx)")
    return label_text, spec


def read_inputs(specs: list[str], limit: int, size: int) -> list[tuple[Path, np.ndarray]]:
    """The input files (expanded, in order, the first ``limit`` when > 0) as uint8 RGB (H, W, 3),
    resized to ``size`` x ``size`` when ``size`` > 0."""
    files = [f for spec in specs for f in list_images(spec)]
    if limit > 0:
        files = files[:limit]
    images = []
    for f in files:
        rgb = to_uint(read_image(f).rgb)
        if size > 0:
            rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
        images.append((f, rgb))
    return images


def as_rgb(image: np.ndarray) -> np.ndarray:
    """A model's output, (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), as (H, W, 3) (alpha dropped, gray repeated)."""
    if image.ndim == 2:
        image = image[..., None]
    return np.repeat(image, 3, axis=2) if image.shape[2] in (1, 2) else image[..., :3]


def side_by_side(inputs: list[np.ndarray], columns: list[tuple[str, list[np.ndarray]]], cell: int,
                 input_label: str = "input") -> np.ndarray:
    """The grid as uint8 RGB: row i is ``inputs[i]`` then each column's i-th image, every cell
    resized to ``cell`` x ``cell``; the first row carries the labels (``input_label``, then each
    column's label)."""
    def tile(image: np.ndarray) -> np.ndarray:
        return cv2.resize(image, (cell, cell), interpolation=cv2.INTER_NEAREST)

    rows = []
    for i, source in enumerate(inputs):
        tiles = [tile(source)] + [tile(images[i]) for _, images in columns]
        if i == 0:
            tiles = [label(t, text) for t, text in zip(tiles, [input_label] + [name for name, _ in columns])]
        rows.append(row(tiles))
    gap = np.full((ROW_GAP, rows[0].shape[1], 3), 255, np.uint8)
    return np.vstack([x for r in rows for x in (r, gap)][:-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", help="image files, folders or glob patterns")
    p.add_argument("--model", action="append", required=True, metavar="[LABEL=]SPEC",
                   help="a model column (repeatable, in order): zoo name, run folder, checkpoint or .onnx")
    p.add_argument("-o", "--out", required=True, help="the figure to write: .png, or .jpg (quality 85)")
    p.add_argument("--limit", type=int, default=0, help="only the first N inputs (0: all)")
    p.add_argument("--size", type=int, default=0, help="resize inputs to SIZE x SIZE before the models (0: as they are)")
    p.add_argument("--cell", type=int, default=256, help="side of each shown image in px (default 256)")
    p.add_argument("--direction", choices=("AtoB", "BtoA"),
                   help="which generator of each model (a CycleGAN run has two; default: its first, AtoB)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    args = p.parse_args(argv)
    try:
        if Path(args.out).suffix.lower() not in (".png", ".jpg", ".jpeg"):
            raise TranslateError(f"-o {args.out}: the figure is written as PNG or JPEG; give a name ending in "
                                 ".png or .jpg")
        if args.cell < 16 or args.size < 0 or args.limit < 0:
            raise TranslateError("--cell must be at least 16, --size and --limit at least 0")
        models = [parse_model(m) for m in args.model]
        inputs = read_inputs(args.inputs, args.limit, args.size)
        columns = []
        for name, spec in models:
            model = translate.load(spec, device=args.device, direction=args.direction)
            columns.append((name, [as_rgb(model(rgb)) for _, rgb in inputs]))
        grid = side_by_side([rgb for _, rgb in inputs], columns, args.cell)
        # quality applies to .jpg only (the docs' photo figures); PNG stays lossless
        write_image(args.out, grid, quality=85, protect=[f for f, _ in inputs])
    except TranslateError as e:
        print(f"side_by_side.py: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({len(inputs)} rows x {len(columns) + 1} columns)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
