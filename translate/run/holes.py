"""Filling holes with a network that takes an image + a hole mask at one fixed size. No torch.

A model whose card says ``inputs = ("image", "mask")`` and ``fixed_size = S`` (the context
encoder: 128) sees square S x S windows. :func:`fill_holes` covers each hole of an image of any
size with such a window, runs the network on it and pastes back only the hole's pixels; the
pipeline (:meth:`translate.run.pipeline.Translator.translate`) passes the function that runs the
network on one window.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

__all__ = ["hole_windows", "fill_holes"]


def hole_windows(hole: np.ndarray, window: int, merge: int = 8) -> list[tuple[int, int, int]]:
    """Square context windows ``(top, left, side)`` covering each hole of an (H, W) bool mask.

    Holes closer than ``merge`` px share a window. Each window is centred on its hole's bounding
    box with ``side = max(window, 2 * longest side of the box)``, so the hole spans at most half
    the window, as the 64x64 hole in the 128x128 training images; windows may reach outside the
    image (the image is reflected there) only where the image is smaller than the window; else
    they are shifted inside it. Ordered by position.
    """
    grown = cv2.dilate(hole.astype(np.uint8), np.ones((2 * merge + 1, 2 * merge + 1), np.uint8)) if merge else hole
    count, _, stats, _ = cv2.connectedComponentsWithStats(grown.astype(np.uint8), connectivity=8)
    boxes = []
    for x, y, w, h, _ in stats[1:count]:
        # the bounding box of the hole itself inside the (dilated) component
        sub = hole[y:y + h, x:x + w]
        rows, cols = np.flatnonzero(sub.any(1)), np.flatnonzero(sub.any(0))
        if rows.size == 0:
            continue
        y0, y1, x0, x1 = y + rows[0], y + rows[-1] + 1, x + cols[0], x + cols[-1] + 1
        side = max(window, 2 * max(y1 - y0, x1 - x0))
        top, left = (y0 + y1 - side) // 2, (x0 + x1 - side) // 2
        # shifted inside the image where it is large enough: real context beats reflections
        top = min(max(top, 0), hole.shape[0] - side) if side <= hole.shape[0] else top
        left = min(max(left, 0), hole.shape[1] - side) if side <= hole.shape[1] else left
        boxes.append((int(top), int(left), int(side)))
    return sorted(boxes)


def _reflect_crop(a: np.ndarray, top: int, left: int, side: int) -> np.ndarray:
    """The (side, side, ...) crop of ``a`` at (top, left), reflecting ``a`` where the crop leaves it
    (numpy's reflect mode repeats, so crops larger than the image work too)."""
    h, w = a.shape[:2]
    pads = [(max(0, -top), max(0, top + side - h)), (max(0, -left), max(0, left + side - w))]
    padded = np.pad(a, pads + [(0, 0)] * (a.ndim - 2), mode="reflect") if any(map(any, pads)) else a
    top, left = top + pads[0][0], left + pads[1][0]
    return padded[top:top + side, left:left + side]


def fill_holes(rgb: np.ndarray, hole: np.ndarray, window: int,
               run: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """Fill the holes of an (H, W, 3) float32 image in [0, 1]; ``hole`` is (H, W) bool (True = fill).

    Each window of :func:`hole_windows` is cut out (reflecting the image beyond its borders),
    resized to ``window`` x ``window`` (area interpolation when shrinking, the mask marks a pixel
    as hole when any part of it is), filled by ``run(crop, crop_hole)`` (``(window, window, 3)``
    in [0, 1] and ``(window, window)`` float32 1 = hole -> ``(window, window, 3)`` in [0, 1]) and
    resized back (bicubic); only that window's hole pixels are replaced, all known pixels are
    kept exactly. Later windows see the earlier fills.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or hole.shape != rgb.shape[:2]:
        raise ValueError(f"need rgb (H, W, 3) and hole (H, W), got {rgb.shape} and {hole.shape}")
    out = rgb.astype(np.float32, copy=True)
    todo = hole.copy()
    for top, left, side in hole_windows(hole, window):
        crop = _reflect_crop(out, top, left, side)
        crop_hole = _reflect_crop(todo, top, left, side).astype(np.float32)
        if side != window:
            shrink = cv2.INTER_AREA if side > window else cv2.INTER_CUBIC
            crop = cv2.resize(crop, (window, window), interpolation=shrink)
            crop_hole = (cv2.resize(crop_hole, (window, window), interpolation=cv2.INTER_AREA) > 0).astype(np.float32)
        filled = run(np.clip(crop, 0, 1), crop_hole)
        if side != window:
            filled = np.clip(cv2.resize(filled, (side, side), interpolation=cv2.INTER_CUBIC), 0, 1)
        # paste back the part of the window inside the image, hole pixels only
        y0, x0 = max(top, 0), max(left, 0)
        y1, x1 = min(top + side, out.shape[0]), min(left + side, out.shape[1])
        region = todo[y0:y1, x0:x1]
        patch = filled[y0 - top:y1 - top, x0 - left:x1 - left]
        out[y0:y1, x0:x1][region] = patch[region]
        todo[y0:y1, x0:x1] = False
    return out
