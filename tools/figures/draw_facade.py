"""Draw a facade label map in the 12 facades class colours: the README's sample input.

    python tools/figures/draw_facade.py docs/samples/facade_labels.png [--seed 0]

The picture is made by this code alone (our own work, free to redistribute, unlike the CMP facades
images): a building over background, a cornice, floors of windows with sills and blinds, balconies,
pillars and mouldings between floors, shops and a door on the ground floor, drawn at 256x256 with
:data:`translate.eval.palettes.FACADES`. Different seeds give different buildings.
"""

from __future__ import annotations

import argparse

import numpy as np

from translate.eval.palettes import FACADES, draw
from translate.imageio import write_image

SIZE = 256


def facade_classes(seed: int = 0) -> np.ndarray:
    """(256, 256) class ids of a drawn facade (ids index :data:`FACADES`)."""
    rng = np.random.default_rng(seed)
    c = {name: i for i, name in enumerate(FACADES.classes)}
    ids = np.full((SIZE, SIZE), c["background"])
    left, right, top = int(rng.integers(0, 24)), SIZE - int(rng.integers(0, 24)), int(rng.integers(8, 40))
    ids[top:, left:right] = c["facade"]
    ids[top:top + 8, left:right] = c["cornice"]
    shop_top = SIZE - 52
    floors = int(rng.integers(3, 6))
    columns = int(rng.integers(4, 7))
    floor_h = (shop_top - top - 12) // floors
    col_w = (right - left) // columns
    for f in range(floors):
        y = top + 12 + f * floor_h
        ids[y + floor_h - 3:y + floor_h - 1, left:right] = c["molding"]
        for k in range(columns):
            x = left + k * col_w + col_w // 4
            w, h = col_w // 2, int(floor_h * 0.6)
            ids[y + 4:y + 4 + h, x:x + w] = c["window"]
            if rng.random() < 0.3:  # open shutters beside the window
                ids[y + 4:y + 4 + h, x - 4:x] = c["blind"]
                ids[y + 4:y + 4 + h, x + w:x + w + 4] = c["blind"]
            ids[y + 4 + h:y + 7 + h, x - 2:x + w + 2] = c["sill"]
            if f == 1 and k % 2 == 0:
                ids[y + h - 2:y + h + 8, x - 4:x + w + 4] = c["balcony"]
            if f == 0 and k == columns // 2:
                ids[y + 2:y + 4, x - 6:x + w + 6] = c["deco"]
    for k in range(columns + 1):  # pillars between the shops
        x = min(left + k * col_w, right - 4)
        ids[shop_top:, x:x + 4] = c["pillar"]
    for k in range(columns):
        x = left + k * col_w + 6
        ids[shop_top + 8:SIZE - 4, x:x + col_w - 12] = c["door"] if k == columns // 2 else c["shop"]
    return ids


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("output")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    write_image(args.output, draw(facade_classes(args.seed), FACADES))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
