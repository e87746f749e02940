"""The one image pipeline around a model backend; numpy and OpenCV only, never torch.

Every way of running a model (``translate run`` with PyTorch, the Python API, the onnxruntime
runtime, the evaluators) calls :func:`run_backend`, so the paths cannot drift apart::

    rgb (H, W, 3) in [0, 1] -> (x - mean) / std [-> gray] [+ extra input channels]
      -> pad (reflect) bottom/right to the card's size multiple, and to at least MIN_SIDE px
         [or split into overlapping tiles]
      -> backend((B, C, h, w)) -> (B, C_out, h*scale, w*scale)
      [-> blend tiles with a smooth weight window] -> crop to (H*scale, W*scale)
      -> y * std + mean -> clip to [0, 1]
      [-> BT.601 luma (H*scale, W*scale, 1), for a gray image and an RGB model: gray in, gray out]

A backend is anything callable on a float32 NCHW numpy batch: a wrapper around a torch module,
or an onnxruntime session. It only ever sees heights and widths that are multiples of
``multiple`` and, when tiling, only batches of ``batch_size`` tiles, so memory is bounded by the
tile size whatever the image size.

Tiling: tiles of ``tile`` pixels (rounded up to the multiple) overlapping by ``tile_overlap``
cover the image padded to the multiple, the last tile of each row and column ending at its end;
an image smaller than a tile is one tile. Outputs are summed with weights (:func:`blend_window`)
that are 0 in the outer quarter of each overlap band, rise smoothly over its middle half and add
up to 1, then divided by the summed weights. The overlap is at most half a tile (the tiles' pixels
are then at most ~4x the image's) and an image at most :data:`MAX_TILES` tiles (:func:`check_tiling`).

Exactness: for networks without global statistics (super-resolution, de-raining, BatchNorm in
eval mode) an output pixel depends only on a window of input pixels, so the tiled result equals
the untiled one when the overlap covers the receptive field (radius <= ``tile_overlap / 4``):
pixels that saw a tile's border instead of the image get weight 0. For InstanceNorm networks
(CycleGAN) each tile is normalised by its own mean and variance, so tiles differ slightly from
each other and from the untiled result; the smooth blend hides the seams, it cannot remove the
difference.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Callable, Protocol, Sequence

import cv2
import numpy as np

from translate.data.layouts import hole_mask, image_hole, read_mask
from translate.errors import TranslateError
from translate.fileio import check_not_overwriting
from translate.imageio import (PIXEL_LIMIT_ENV, Image, check_format, image_from_array, image_to_array, pixel_limit,
    read_image, write_image)
from translate.models.cards import ModelCard
from translate.run.holes import fill_holes

#: The smallest side a network is shown (smaller images are reflect-padded to it and cropped
#: back): a 1-pixel image would reach a ResNet generator's bottleneck as 1x1, where reflection
#: padding and instance normalisation are undefined.
MIN_SIDE = 16

#: The most tiles (network calls) one image may be cut into. The suggested ``--tile 512`` with the
#: default overlap of 32 needs at most ~4,800 on any image the decoders read (2^30 px, square or
#: 1:4), so no sensible setting comes near it; it refuses tiles tiny for their image (``--tile 16
#: --tile-overlap 8`` above ~720x720 px, ``--tile 64 --tile-overlap 16`` above ~4300x4300), whose
#: per-call overhead would dwarf the work and hold `translate serve`'s model for minutes. With the
#: minimum stride (:func:`check_tiling`) the tiles' pixels are at most ~4x the image's anyway.
MAX_TILES = 8192


class BackendError(ValueError):
    """The backend's output does not fit the model card (wrong shape, scale or channels): the
    model file and its card disagree, whatever the image."""


class NonFiniteOutputError(TranslateError):
    """The backend returned NaN or infinite values (NaN weights, an fp16 overflow): nothing of
    that input is written; the :class:`Translator` names the model and the file."""


def _non_finite_message(model: object = None) -> str:
    """What to say of NaN / inf output (``model``: its file or name, when known)."""
    return (f"{f'model {model}' if model else 'the model'} produced NaN or infinite values, so nothing was written; "
            f"its weights may hold NaN or inf (check the file, or train it again); with --precision fp16 or bf16, "
            f"try fp32")


class Backend(Protocol):
    """A model: ``(B, C, H, W)`` float32 -> ``(B, C_out, H*scale, W*scale)`` float32 numpy."""

    def __call__(self, batch: np.ndarray, /) -> np.ndarray: ...


class Interrupted(TranslateError):
    """The caller asked to stop (a deadline passed, the client went away) between two network
    calls: the work was abandoned at the next tile and nothing of it is returned."""


class _Stoppable:
    """A backend that asks ``stop`` before each call (each tile or batch) and raises
    :class:`Interrupted` when it is true: how a caller bounds the time of tiled work."""

    def __init__(self, backend: Backend, stop: Callable[[], bool]):
        self.backend, self.stop = backend, stop

    def __call__(self, batch: np.ndarray, /) -> np.ndarray:
        if self.stop():
            raise Interrupted("stopped before the next network call")
        return self.backend(batch)


def pad_to_multiple(x: np.ndarray, multiple: int, mode: str = "reflect",
                    min_side: int = 1) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad an (H, W, C) or (H, W) array bottom/right so H and W are multiples of ``multiple``
    and at least ``min_side``.

    Returns ``(padded, (H, W))``; crop the result back with ``[:H, :W]``. numpy's reflect mode
    reflects repeatedly, so a pad larger than the image (a 3x5 image to 256x256) works too.
    """
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    h, w = x.shape[:2]
    pad = [(0, _padded_length(h, multiple, min_side) - h), (0, _padded_length(w, multiple, min_side) - w)]
    pad += [(0, 0)] * (x.ndim - 2)
    return (np.pad(x, pad, mode=mode) if pad[0][1] or pad[1][1] else x), (h, w)


def _padded_length(length: int, multiple: int, min_side: int) -> int:
    return -(-max(length, min_side) // multiple) * multiple


def center_crop(rgb: np.ndarray, side: int) -> np.ndarray:
    """The centre ``side`` x ``side`` crop of an (H, W, ...) image (a shorter side is kept whole):
    the one rule for bounding the images a check or a calibration runs on."""
    h, w = rgb.shape[:2]
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return rgb[top:top + side, left:left + side]


def min_side(card: ModelCard) -> int:
    """The smallest side ``card``'s network is shown: :data:`MIN_SIDE`, or more where the network
    needs it (``card.extra["min_side"]``, e.g. a community model's minimum input size)."""
    return max(MIN_SIDE, int(card.extra.get("min_side", 0)))


def check_tiling(tile: int, tile_overlap: int, multiple: int = 1, smallest: int = MIN_SIDE,
                 size: tuple[int, int] | None = None) -> None:
    """Raise ValueError unless ``tile`` (0 = no tiles) and ``tile_overlap`` can tile an image
    for a network of size multiple ``multiple`` shown sides of at least ``smallest`` px, and,
    given the image's (H, W) ``size``, cut it into at most :data:`MAX_TILES` tiles: the one rule
    for every entry point (cheap: no tile is cut)."""
    if tile < 0 or tile_overlap < 0:
        raise ValueError(f"--tile ({tile}) and --tile-overlap ({tile_overlap}) must be >= 0")
    if tile and tile < max(multiple, smallest):
        raise ValueError(f"--tile {tile} is too small for this model; use at least {max(multiple, smallest)} "
                         f"(or 0 for no tiles)")
    if tile and tile_overlap >= tile:
        raise ValueError(f"--tile-overlap ({tile_overlap}) must be smaller than --tile ({tile})")
    # A minimum stride of half a tile. The blend ramps over at most half a tile (blend_window caps
    # its band there), so more overlap blends no better; it only multiplies the work: a tile's
    # worth of image is run (tile / stride)^2 times, 4 at half a tile, 256 at --tile 16
    # --tile-overlap 15 (a network call per pixel row and column).
    if tile and 2 * tile_overlap > tile:
        raise ValueError(f"--tile-overlap {tile_overlap} is more than half of --tile {tile}: each tile would add only "
                         f"{tile - tile_overlap} new px; use --tile-overlap {tile // 2} or less")
    if tile and size is not None:
        count = tile_count(size, tile, tile_overlap, multiple, smallest)
        if count > MAX_TILES:
            # the least tile that fits (the count only falls as the tile grows: one tile at the image's
            # size), rounded up to the multiple as the tiles are
            low, high = tile, max(tile, *(_padded_length(n, multiple, smallest) for n in size))
            while low < high:
                middle = (low + high) // 2
                low, high = (low, middle) if tile_count(size, middle, tile_overlap, multiple, smallest) <= MAX_TILES \
                    else (middle + 1, high)
            fits = -(-low // multiple) * multiple
            raise ValueError(f"--tile {tile} --tile-overlap {tile_overlap}: a {size[1]}x{size[0]} image would take "
                             f"{count} tiles, more than {MAX_TILES} (a network call each); use --tile {fits} or more "
                             f"(or 0 for no tiles)")


def tile_count(size: tuple[int, int], tile: int, tile_overlap: int, multiple: int = 1, smallest: int = MIN_SIDE) -> int:
    """How many tiles :func:`run_backend` cuts an image of (H, W) ``size`` into: ``len(tile_starts(...))``
    along each side of the padded image, counted without building the lists (a side can be 2^30 px)."""
    height, width = (_padded_length(n, multiple, smallest) for n in size)
    tile_h, tile_w = _tile_shape(height, width, tile, multiple)
    return _count_starts(height, tile_h, tile_overlap) * _count_starts(width, tile_w, tile_overlap)


def call_shape(size: tuple[int, int], tile: int, multiple: int = 1, smallest: int = MIN_SIDE) -> tuple[int, int]:
    """The (h, w) one network call sees for an image of (H, W) ``size``: the image padded to the
    multiple (and to ``smallest``), or a tile of it when ``tile`` > 0 (what bounds a call's memory)."""
    height, width = (_padded_length(n, multiple, smallest) for n in size)
    return _tile_shape(height, width, tile, multiple)


def _tile_shape(height: int, width: int, tile: int, multiple: int) -> tuple[int, int]:
    """The (h, w) of the tiles of an image padded to (``height``, ``width``): ``tile`` rounded up to
    ``multiple``, at most the image; the whole image when ``tile`` is 0."""
    if not tile:
        return height, width
    side = -(-tile // multiple) * multiple
    return min(side, height), min(side, width)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)`` with stride ``tile - overlap``.

    The last tile ends exactly at ``length``, so it overlaps its neighbour by at least ``overlap``.
    """
    if length <= tile:
        return [0]
    return list(range(0, length - tile, tile - overlap)) + [length - tile]


def _count_starts(length: int, tile: int, overlap: int) -> int:
    """``len(tile_starts(length, tile, overlap))`` without building the list."""
    return 1 if length <= tile else len(range(0, length - tile, tile - overlap)) + 1


def blend_window(size: int, overlap: int, at_start: bool, at_end: bool) -> np.ndarray:
    """1-D weights (size,) of a tile: a rise over ``overlap`` pixels at the ends facing another tile.

    The outer quarter of the band gets weight 0 (those pixels saw the tile's edge instead of the
    image), the middle half a raised cosine, the rest 1. The rise is symmetric,
    ``rise[k] + rise[overlap - 1 - k] == 1``, so the weights of tiles overlapping by at least
    ``overlap`` sum to at least 1 everywhere and the blend is exact for a local network whose
    receptive-field radius is at most ``overlap / 4`` (the band is capped at half the tile).
    """
    window = np.ones(size, np.float32)
    band = min(overlap, size // 2)
    if band > 0:
        t = np.clip((np.arange(band, dtype=np.float32) + 0.5 - band / 4) / (band / 2), 0.0, 1.0)
        rise = np.sin(0.5 * np.pi * t) ** 2
        if at_start:
            window[:band] = rise
        if at_end:
            window[size - band:] = rise[::-1]
    return window


def _to_nchw(batch: list[np.ndarray]) -> np.ndarray:
    return np.ascontiguousarray(np.stack(batch).transpose(0, 3, 1, 2), dtype=np.float32)


def _call(backend: Backend, batch: list[np.ndarray], scale: int) -> np.ndarray:
    """Run one batch of (h, w, C) tiles; returns (B, h*scale, w*scale, C_out), checked."""
    x = _to_nchw(batch)
    y = np.asarray(backend(x), dtype=np.float32)
    b, _, h, w = x.shape
    if y.ndim != 4 or y.shape[0] != b or y.shape[2:] != (h * scale, w * scale):
        raise BackendError(
            f"backend returned shape {y.shape} for input {x.shape}; expected "
            f"({b}, C_out, {h * scale}, {w * scale}) (is the card's scale {scale} right?)"
        )
    if not np.isfinite(y).all():  # before numpy's own warning when NaN is cast to an 8-bit image
        raise NonFiniteOutputError(_non_finite_message())
    return y.transpose(0, 2, 3, 1)


def run_backend(
    rgb: np.ndarray,
    backend: Backend,
    *,
    mean: float,
    std: float,
    multiple: int,
    scale: int = 1,
    in_channels: int = 3,
    tile: int = 0,
    tile_overlap: int = 32,
    batch_size: int = 1,
    extra_inputs: np.ndarray | None = None,
    smallest: int = MIN_SIDE,
) -> np.ndarray:
    """Translate one (H, W, 3) float32 image in [0, 1] into an (H*scale, W*scale, 3) one in [0, 1].

    The backend sees ``(x - mean) / std`` (BT.601 luma first when ``in_channels`` is 1), plus
    ``extra_inputs`` (H, W, K) appended as raw channels (e.g. an inpainting mask), padded to
    ``multiple``; its output is cropped, mapped back as ``y * std + mean``, a 1-channel output
    replicated to RGB. ``tile > 0`` runs overlapping tiles of ``tile`` (rounded up to
    ``multiple``) pixels, ``batch_size`` at a time, blended over ``tile_overlap`` pixels.
    Images and tiles are padded to at least ``smallest`` px a side (see :func:`min_side`).
    Raises ValueError for inconsistent arguments, :class:`BackendError` for a backend returning
    the wrong shape.
    """
    _check_arguments(in_channels, multiple, scale, batch_size)
    if tile:
        check_tiling(tile, tile_overlap, multiple, smallest)
    height, width = rgb.shape[:2]
    x = _network_input(rgb, mean, std, in_channels, extra_inputs)
    # Tiles cover the image padded to the multiple, exactly as the untiled path pads it, so a
    # network sees the same content beyond the image's bottom/right edge either way.
    x, _ = pad_to_multiple(x, multiple, min_side=smallest)
    tile_h, tile_w = _tile_shape(x.shape[0], x.shape[1], tile, multiple)
    boxes = [(top, left) for top in tile_starts(x.shape[0], tile_h, tile_overlap)
             for left in tile_starts(x.shape[1], tile_w, tile_overlap)]

    if len(boxes) == 1:
        y = _call(backend, [x[:tile_h, :tile_w]], scale)[0]
    else:
        y = _blend_tiles(x, backend, boxes, tile_h, tile_w, tile_overlap, scale, batch_size)
    return _network_output(y, height, width, scale, mean, std)


def run_backend_batch(rgbs: Sequence[np.ndarray], backend: Backend, *, mean: float, std: float, multiple: int,
                      scale: int = 1, in_channels: int = 3, smallest: int = MIN_SIDE) -> list[np.ndarray]:
    """Translate several (H, W, 3) float32 images of one size in a single backend call (B = their
    count, e.g. the frames of a video), untiled; each result is what :func:`run_backend` gives
    for that image alone (networks without batch statistics), up to the float rounding of a
    batched convolution (at most 1 level of 255 in tests)."""
    _check_arguments(in_channels, multiple, scale, 1)
    if not rgbs:
        return []
    height, width = rgbs[0].shape[:2]
    if any(rgb.shape[:2] != (height, width) for rgb in rgbs):
        raise ValueError(f"images of one batch must have one size, got {sorted({r.shape for r in rgbs})}")
    xs = [pad_to_multiple(_network_input(rgb, mean, std, in_channels), multiple, min_side=smallest)[0]
          for rgb in rgbs]
    return [_network_output(y, height, width, scale, mean, std) for y in _call(backend, xs, scale)]


def _check_arguments(in_channels: int, multiple: int, scale: int, batch_size: int) -> None:
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
    if multiple < 1 or scale < 1 or batch_size < 1:
        raise ValueError(f"multiple, scale and batch_size must be >= 1, got {multiple}, {scale}, {batch_size}")


def _network_input(rgb: np.ndarray, mean: float, std: float, in_channels: int,
                   extra_inputs: np.ndarray | None = None) -> np.ndarray:
    """(H, W, 3) float in [0, 1] -> the (H, W, C) float32 network input, not padded yet."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be (H, W, 3), got {rgb.shape}")
    height, width = rgb.shape[:2]
    x = rgb.astype(np.float32)
    if in_channels == 1:
        x = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)[..., None]  # 0.299 R + 0.587 G + 0.114 B
    x = (x - np.float32(mean)) / np.float32(std)
    if extra_inputs is not None:
        if extra_inputs.shape[:2] != (height, width):
            raise ValueError(f"extra_inputs {extra_inputs.shape} must be (H, W[, K]) with (H, W) = {(height, width)}")
        extra = extra_inputs.reshape(height, width, -1).astype(np.float32)
        x = np.concatenate([x, extra], axis=2)
    return x


def _network_output(y: np.ndarray, height: int, width: int, scale: int, mean: float, std: float) -> np.ndarray:
    """The backend's (h*s, w*s, C_out) output of a padded (h, w) input -> (H*s, W*s, 3) in [0, 1]."""
    y = y[: height * scale, : width * scale]
    if y.shape[2] not in (1, 3):
        raise BackendError(f"backend returned {y.shape[2]} channels; expected 1 or 3")
    y = y * np.float32(std) + np.float32(mean)
    if y.shape[2] == 1:
        y = np.repeat(y, 3, axis=2)
    return np.clip(y, 0.0, 1.0, out=y)


def _blend_tiles(x: np.ndarray, backend: Backend, boxes: list[tuple[int, int]], tile_h: int, tile_w: int,
                 overlap: int, scale: int, batch_size: int) -> np.ndarray:
    """Run (tile_h, tile_w) tiles at ``boxes`` of x (H, W, C), return the weighted blend (H*s, W*s, C_out).

    A tile's weight is the outer product of :func:`blend_window` along y and x; it only falls on
    sides facing another tile, so image borders keep full weight.
    """
    height, width = x.shape[:2]
    out = weight = None
    for first in range(0, len(boxes), batch_size):
        chunk = boxes[first:first + batch_size]
        results = _call(backend, [x[t:t + tile_h, l:l + tile_w] for t, l in chunk], scale)
        if out is None:
            out = np.zeros((height * scale, width * scale, results.shape[3]), np.float32)
            weight = np.zeros((height * scale, width * scale, 1), np.float32)
        for (top, left), y in zip(chunk, results):
            wy = blend_window(tile_h * scale, overlap * scale, top > 0, top + tile_h < height)
            wx = blend_window(tile_w * scale, overlap * scale, left > 0, left + tile_w < width)
            window = (wy[:, None] * wx[None, :])[..., None]
            rows = slice(top * scale, (top + tile_h) * scale)
            cols = slice(left * scale, (left + tile_w) * scale)
            out[rows, cols] += y * window
            weight[rows, cols] += window
    return out / weight


def keeps_gray(card: ModelCard) -> bool:
    """Whether ``card``'s model gives gray images back gray: an RGB-in, RGB-out model does (its
    output of the gray image, seen as three equal channels, becomes its BT.601 luma), as
    Real-ESRGAN does with 1-channel files; a model with gray input or gray output gives RGB back."""
    return int(card.generator.get("input_nc", 3)) == 3 and int(card.generator.get("output_nc", 3)) == 3


def translate_image(image: Image, backend: Backend, card: ModelCard, *, tile: int = 0, tile_overlap: int = 32,
                    batch_size: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
    """Run a model on a decoded image as its card says; returns (rgb, alpha).

    ``rgb`` is (H*scale, W*scale, 3) float32 in [0, 1], or (H*scale, W*scale, 1), the luma of
    that, for a gray image (``image.gray``: 1-channel or gray + alpha) when :func:`keeps_gray`.
    The alpha plane is not translated: it is returned unchanged for scale 1 and resized
    bicubically (clipped to [0, 1]) otherwise, or None when the image has none. The network
    sees a gray image as RGB (``image.rgb``, three equal channels).
    """
    return translate_images([image], backend, card, tile=tile, tile_overlap=tile_overlap, batch_size=batch_size)[0]


def translate_images(images: Sequence[Image], backend: Backend, card: ModelCard, *, tile: int = 0,
                     tile_overlap: int = 32, batch_size: int = 1) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """:func:`translate_image` for several images of one size (the frames of a video): untiled,
    they go through the backend as one batch; tiled, one after the other (``batch_size`` tiles
    at a time). Each result is the one :func:`translate_image` gives for that image (batched:
    up to float rounding)."""
    options = dict(mean=card.mean, std=card.std, multiple=card.multiple, scale=card.scale,
                   in_channels=int(card.generator.get("input_nc", 3)), smallest=min_side(card))
    if tile:
        rgbs = [run_backend(i.rgb, backend, tile=tile, tile_overlap=tile_overlap, batch_size=batch_size, **options)
                for i in images]
    else:
        rgbs = run_backend_batch([i.rgb for i in images], backend, **options)
    gray_out = keeps_gray(card)
    return [(_luma(rgb) if gray_out and image.gray else rgb, _scaled_alpha(image.alpha, rgb.shape[:2]))
            for image, rgb in zip(images, rgbs)]


def _luma(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float RGB -> (H, W, 1) BT.601 luma (0.299 R + 0.587 G + 0.114 B), as Real-ESRGAN grays its output."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None]


def check_outscale(outscale: float | None) -> None:
    """Raise :class:`TranslateError` unless ``outscale`` is None or a positive finite number."""
    if outscale is not None and not (math.isfinite(outscale) and outscale > 0):
        raise TranslateError(f"--outscale must be a positive number (e.g. 2 or 3.5), got {outscale}")


def outscale_size(size: tuple[int, int], outscale: float) -> tuple[int, int]:
    """The (H, W) of an output ``outscale`` times an input of (H, W) ``size``: rounded, at least 1.

    An output of more pixels than images may have here (``$OPENCV_IO_MAX_IMAGE_PIXELS``, 2^30 by
    default: what the decoders refuse to read) raises :class:`TranslateError`."""
    h, w = max(1, round(size[0] * outscale)), max(1, round(size[1] * outscale))
    limit = pixel_limit()
    if h * w > limit:
        raise TranslateError(f"--outscale {outscale:g}: a {size[1]}x{size[0]} image would become {w}x{h}, more than "
                             f"{limit} pixels ({PIXEL_LIMIT_ENV}); use a smaller --outscale")
    return h, w


def resize_output(rgb: np.ndarray, alpha: np.ndarray | None,
                  size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
    """A result (rgb (h, w, 3) or gray (h, w, 1), alpha (h, w) or None; float in [0, 1]) resized to (H, W) ``size``:
    Lanczos (8x8) when enlarging, pixel-area averaging when shrinking, clipped to [0, 1].

    This is ``--outscale``: the model runs at its own scale, then the output is resized to any
    final scale, as Real-ESRGAN's ``--outscale`` does (it uses Lanczos both ways; area averaging
    avoids aliasing when shrinking)."""
    if rgb.shape[:2] == tuple(size):
        return rgb, alpha
    shrink = size[0] * size[1] < rgb.shape[0] * rgb.shape[1]
    flag = cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4
    out = np.clip(cv2.resize(rgb, (size[1], size[0]), interpolation=flag), 0.0, 1.0).reshape(*size, rgb.shape[2])
    if alpha is not None:
        alpha = np.clip(cv2.resize(alpha, (size[1], size[0]), interpolation=flag), 0.0, 1.0)
    return out, alpha


def _scaled_alpha(alpha: np.ndarray | None, size: tuple[int, int]) -> np.ndarray | None:
    """The alpha plane at the output's (H, W): bicubic, clipped to [0, 1], when the size changed."""
    if alpha is None or alpha.shape == tuple(size):
        return alpha
    return np.clip(cv2.resize(alpha, (size[1], size[0]), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def read_mask_file(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """An inpainting mask file as (H, W) bool, True where it is white (luma > 0.5) = the hole.

    ``size`` is the image's (H, W); a mask of another size raises :class:`TranslateError`.
    """
    return read_mask(path, size)


def mask_hole(mask: Image, size: tuple[int, int], source: str = "the mask") -> np.ndarray:
    """A decoded mask image as (H, W) bool, True where it is white (luma > 0.5) = the hole; the
    rule for mask files and for masks uploaded to `translate serve`.

    ``size`` is the image's (H, W); a mask of another size raises :class:`TranslateError` naming
    ``source``.
    """
    return _as_hole(image_hole(mask), size, source)


def _as_hole(mask: np.ndarray, size: tuple[int, int], source: str = "the mask") -> np.ndarray:
    """A user mask array (H, W) / (H, W, 1): bool, or uint8 / uint16 / float where the upper half of the range is
    the hole -> (H, W) bool, checked against the image size (errors name ``source``)."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise TranslateError(f"{source} must be a single-channel (H, W) array, got shape {mask.shape}")
    if mask.shape != tuple(size):
        raise TranslateError(f"{source} is {mask.shape[1]}x{mask.shape[0]} but the image is {size[1]}x{size[0]}; "
                             f"give a mask of the image's size (white = hole)")
    return hole_mask(mask)


def inpaint_image(rgb: np.ndarray, hole: np.ndarray, backend: Backend, *, mean: float, std: float,
                  window: int) -> np.ndarray:
    """Fill the holes of an (H, W, 3) float32 image in [0, 1] (``hole`` (H, W) bool, True = fill)
    with a backend that takes the image + the mask at ``window`` px: :func:`translate.run.holes.fill_holes`
    with the backend seeing ``(1, 4, window, window)``, the normalised window plus the mask channel."""
    return fill_holes(rgb, hole, window, lambda crop, crop_hole: run_backend(
        crop, backend, mean=mean, std=std, multiple=1, extra_inputs=crop_hole[..., None]))


class Translator:
    """A model ready to use: a backend plus its card, on arrays or files.

    ``translator(array)`` maps an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8 / uint16 image to an
    array of the same layout and dtype, ``scale`` times larger (a gray image comes back gray when
    :func:`keeps_gray`, else as (H, W, 3)); ``translate_file(src, dst)`` reads any
    image file and writes the result atomically. The PyTorch path (:mod:`translate.run.inference`)
    and the ONNX runtime (:mod:`translate.run.runtime`) differ only in ``backend``.

    Inpainting models (card ``inputs`` ``("image", "mask")``) need ``mask``: an (H, W) array
    (bool, or white = hole) or, for ``translate_file``, a mask image file of the image's size;
    the image must be RGB. Holes are filled window by window at the card's ``fixed_size``
    (:func:`inpaint_image`), known pixels are kept. A missing or mis-sized mask, a mask given to
    another model or a gray image raise :class:`TranslateError`.

    ``model_file`` (the weights or ONNX file, when there is one) is named in errors about the
    model and is never overwritten by ``translate_file``, nor are its ``src`` and ``mask``.
    """

    def __init__(self, backend: Backend, card: ModelCard, device: str = "cpu",
                 model_file: str | Path | None = None):
        self.backend = backend
        self.card = card
        self.device = device
        self.model_file = None if model_file is None else Path(model_file)

    def check_tiling(self, tile: int, tile_overlap: int, size: tuple[int, int] | None = None) -> None:
        """Raise :class:`TranslateError` unless ``tile`` / ``tile_overlap`` suit this model (and
        cut an image of (H, W) ``size`` into at most :data:`MAX_TILES` tiles)."""
        try:
            check_tiling(tile, tile_overlap, self.card.multiple, min_side(self.card), size)
        except ValueError as e:
            raise TranslateError(str(e)) from None

    @property
    def needs_mask(self) -> bool:
        """Whether the model takes a hole mask besides the image (the card's ``inputs``)."""
        return "mask" in self.card.inputs

    def _check_mask(self, image: Image, mask: object, source: str) -> None:
        if self.needs_mask:
            if mask is None:
                raise TranslateError(f"{self.card.name} is an inpainting model: give the hole as a mask "
                                     f"(translate run ... --mask MASK.png, white = hole)")
            if image.gray:
                raise TranslateError(f"{source}: is a 1-channel (gray) image; the inpainting model needs an RGB "
                                     f"image (convert it to RGB first)")
        elif mask is not None:
            raise TranslateError(f"{self.card.name} is a {self.card.task} model; --mask applies to inpainting models only")

    def translate(self, image: Image, *, tile: int = 0, tile_overlap: int = 32,
                  mask: np.ndarray | None = None, outscale: float | None = None,
                  stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Run on a decoded :class:`Image`; returns (rgb float32 [0, 1], alpha or None); ``rgb`` is
        (H, W, 1) gray for a gray image when :func:`keeps_gray`, else (H, W, 3).

        ``mask`` (H, W) is required by inpainting models and refused by others; ``outscale``
        resizes the result to that many times the input size (:func:`resize_output`); ``stop``
        is asked before every network call (each tile) and raises :class:`Interrupted` when true."""
        self._check_mask(image, mask, "the image")
        return self._run(image, tile, tile_overlap, None if mask is None else _as_hole(mask, image.size), outscale,
                         stop)

    def _run(self, image: Image, tile: int, tile_overlap: int, hole: np.ndarray | None,
             outscale: float | None = None, stop: Callable[[], bool] | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The model on a checked image (and, for inpainting, its (H, W) bool hole)."""
        return self.translate_frames([image], tile=tile, tile_overlap=tile_overlap, hole=hole, outscale=outscale,
                                     stop=stop)[0]

    def translate_frames(self, images: Sequence[Image], *, tile: int = 0, tile_overlap: int = 32,
                         hole: np.ndarray | None = None, outscale: float | None = None,
                         stop: Callable[[], bool] | None = None) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Run on decoded RGB images of one size (the frames of a video); returns (rgb, alpha) per image.

        Untiled, the images go through the backend as one batch (:func:`translate_images`);
        each result is :meth:`translate` of that image alone, up to float rounding. ``hole`` (H, W) bool is the
        inpainting hole of every image (required by inpainting models, refused by others).
        ``outscale`` (e.g. 3.5 for a 4x model): each result is resized to :func:`outscale_size`
        of its input with :func:`resize_output`; None keeps the model's scale. ``stop`` is asked
        before every network call and raises :class:`Interrupted` when true (None: never)."""
        check_outscale(outscale)
        results = self._translate_frames(images, tile, tile_overlap, hole, stop)
        if outscale is None:
            return results
        return [resize_output(rgb, alpha, outscale_size(image.size, outscale))
                for (rgb, alpha), image in zip(results, images)]

    def _translate_frames(self, images: Sequence[Image], tile: int, tile_overlap: int, hole: np.ndarray | None,
                          stop: Callable[[], bool] | None = None) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """:meth:`translate_frames` at the model's own scale."""
        # `translate run`, serve, videos and the API all pass here with the decoded image, before
        # the first network call: the tile count is bounded here (inpainting fills holes untiled).
        self.check_tiling(tile, tile_overlap, images[0].size if images and hole is None else None)
        if (hole is not None) != self.needs_mask:
            self._check_mask(images[0], hole, "the frames")
        backend = self.backend if stop is None else _Stoppable(self.backend, stop)
        try:
            if hole is not None:
                window = self.card.fixed_size
                if window is None:
                    raise TranslateError(f"model {self.model_file or self.card.name}: its card takes a mask but gives no "
                                         f"fixed_size to fill holes at; export or save it again", stop_batch=True)
                return [(inpaint_image(image.rgb, hole, backend, mean=self.card.mean, std=self.card.std,
                                       window=window), image.alpha) for image in images]
            return translate_images(images, backend, self.card, tile=tile, tile_overlap=tile_overlap)
        except NonFiniteOutputError:  # maybe this image only (an fp16 overflow): skipped, the batch goes on
            raise NonFiniteOutputError(_non_finite_message(self.model_file or self.card.name)) from None
        except BackendError as e:  # the same for every image: the model, not the image, is wrong
            raise TranslateError(f"model {self.model_file or self.card.name}: {e}; the model does not match its "
                                 f"card (export or save it again)", stop_batch=True) from None

    def __call__(self, array: np.ndarray, *, tile: int = 0, tile_overlap: int = 32,
                 mask: np.ndarray | None = None, outscale: float | None = None) -> np.ndarray:
        image = image_from_array(array)
        rgb, alpha = self.translate(image, tile=tile, tile_overlap=tile_overlap, mask=mask, outscale=outscale)
        out = image_to_array(rgb, alpha, image.bit_depth)
        return out[..., None] if array.ndim == 3 and out.ndim == 2 else out  # (H, W, 1) in, (H, W, 1) out

    def translate_file(self, src: str | Path, dst: str | Path, *, tile: int = 0, tile_overlap: int = 32,
                       mask: str | Path | None = None, outscale: float | None = None,
                       reader: Callable[[str | Path], Image] = read_image) -> None:
        """Read ``src``, translate, write ``dst`` (atomically; 16-bit kept for png / tiff; a gray
        ``src`` is written gray when :func:`keeps_gray`, see :func:`translate.imageio.encode_image`).

        ``mask``: the hole mask file of an inpainting model (white = hole, the image's size);
        ``outscale``: the output's size in times the input's (see :meth:`translate_frames`);
        ``reader``: how ``src`` is decoded (`translate run` checks its work budget from the header first).
        ``dst`` may not be ``src``, ``mask`` or the model file (hard and symbolic links
        included); that and an unwritable ``dst`` raise :class:`TranslateError`."""
        read = (src, mask, self.model_file)
        check_format(Path(dst).suffix)
        check_not_overwriting(dst, read)
        image = reader(src)
        self._check_mask(image, mask, str(src))
        hole = None
        if mask is not None:
            if not os.path.isfile(mask):
                raise TranslateError(f"--mask {mask}: no such file")
            hole = read_mask_file(mask, image.size)
        try:
            rgb, alpha = self._run(image, tile, tile_overlap, hole, outscale)
        except NonFiniteOutputError as e:
            raise NonFiniteOutputError(f"{src}: {e}") from None
        write_image(dst, rgb, alpha, bit_depth=image.bit_depth, protect=read)
