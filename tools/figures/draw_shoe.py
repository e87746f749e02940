"""Draw a shoe edge map (black lines on white, as edges2shoes' B halves): a sample input.

    python tools/figures/draw_shoe.py docs/samples/shoe_edges.png [--seed 0]

The picture is made by this code alone (our own work, free to redistribute, unlike the edges2shoes
images, which come from UT Zappos50K): a side view of a shoe with the toe to the right, as most of
the data set's shoes point, with its sole, toe cap, collar, tongue, eyelets and laces, drawn as
1 px anti-aliased lines at 256x256 like the HED edge maps of the data set. Different seeds give
different shoes (height of the shaft, toe length, number of eyelets).
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from translate.imageio import write_image

SIZE = 256


def _curve(points: list[tuple[float, float]], samples: int = 60) -> np.ndarray:
    """A smooth Catmull-Rom curve through ``points``, as (N, 1, 2) int32 for cv2.polylines."""
    p = np.asarray([points[0]] + list(points) + [points[-1]], np.float64)
    out = []
    for i in range(1, len(p) - 2):
        for t in np.linspace(0, 1, samples // max(1, len(points) - 1), endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append(0.5 * ((2 * p[i]) + (-p[i - 1] + p[i + 1]) * t + (2 * p[i - 1] - 5 * p[i] + 4 * p[i + 1] - p[i + 2]) * t2
                              + (-p[i - 1] + 3 * p[i] - 3 * p[i + 1] + p[i + 2]) * t3))
    out.append(p[-2])
    return np.round(np.asarray(out)).astype(np.int32).reshape(-1, 1, 2)


def shoe_edges(seed: int = 0) -> np.ndarray:
    """(256, 256, 3) uint8: black shoe outlines on white."""
    rng = np.random.default_rng(seed)
    img = np.full((SIZE, SIZE, 3), 255, np.uint8)
    black = (0, 0, 0)
    sole_y = 196 + int(rng.integers(-6, 6))
    toe_x, heel_x = 18 + int(rng.integers(0, 10)), 238 - int(rng.integers(0, 10))
    collar_y = 92 + int(rng.integers(-20, 20))  # top of the shaft: lower = a low shoe
    throat_x = 120 + int(rng.integers(-10, 10))
    # the upper: from the toe tip over the vamp to the throat, up to the collar, back to the heel
    upper = [(toe_x, sole_y - 8), (toe_x + 10, sole_y - 34), (toe_x + 45, sole_y - 52), (throat_x - 30, collar_y + 38),
             (throat_x, collar_y + 8), (throat_x + 40, collar_y), (heel_x - 14, collar_y - 4), (heel_x, collar_y + 20),
             (heel_x + 2, sole_y - 30), (heel_x - 2, sole_y - 8)]
    cv2.polylines(img, [_curve(upper, 240)], False, black, 1, cv2.LINE_AA)
    # sole: outsole bottom and the midsole line above it
    cv2.polylines(img, [_curve([(toe_x - 2, sole_y - 10), (toe_x + 6, sole_y + 6), (120, sole_y + 10),
                                (heel_x - 4, sole_y + 8), (heel_x + 2, sole_y - 10)], 160)], False, black, 1, cv2.LINE_AA)
    cv2.polylines(img, [_curve([(toe_x + 4, sole_y - 6), (100, sole_y - 4), (heel_x - 4, sole_y - 6)], 120)],
                  False, black, 1, cv2.LINE_AA)
    # toe cap and heel counter
    cv2.polylines(img, [_curve([(toe_x + 2, sole_y - 22), (toe_x + 30, sole_y - 40), (toe_x + 52, sole_y - 12)], 80)],
                  False, black, 1, cv2.LINE_AA)
    cv2.polylines(img, [_curve([(heel_x - 40, sole_y - 6), (heel_x - 34, collar_y + 40), (heel_x - 6, collar_y + 12)],
                               80)], False, black, 1, cv2.LINE_AA)
    # tongue above the throat and the collar opening
    cv2.polylines(img, [_curve([(throat_x - 6, collar_y + 14), (throat_x + 4, collar_y - 14), (throat_x + 26, collar_y - 8),
                                (throat_x + 30, collar_y + 4)], 80)], False, black, 1, cv2.LINE_AA)
    # eyelets along the throat and laces crossing between them
    count = int(rng.integers(4, 7))
    start = np.array([throat_x - 34, collar_y + 44], np.float64)
    end = np.array([throat_x + 4, collar_y + 12], np.float64)
    eyelets = [start + (end - start) * i / (count - 1) for i in range(count)]
    for i, e in enumerate(eyelets):
        cv2.circle(img, tuple(int(v) for v in e), 2, black, 1, cv2.LINE_AA)
        if i + 1 < count:
            a, b = e + (-6, -4), eyelets[i + 1] + (8, 4)
            cv2.line(img, tuple(int(v) for v in a), tuple(int(v) for v in b), black, 1, cv2.LINE_AA)
    return np.ascontiguousarray(img[:, ::-1])  # drawn toe-left; the data set's shoes point right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output image (e.g. docs/samples/shoe_edges.png)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write_image(args.out, shoe_edges(args.seed))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
