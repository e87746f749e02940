"""Degradations that make training pairs: MATLAB bicubic resize, synthetic rain, inpainting masks.

numpy + OpenCV only (no torch), deterministic: the same inputs and seed give the same bytes.

- :func:`imresize_matlab` reproduces MATLAB ``imresize(..., 'bicubic')`` including its
  antialiasing when shrinking; the published super-resolution numbers (bicubic Set5 x4 =
  28.43 dB PSNR-Y) are computed on LR images made this way (:func:`make_lr` after
  :func:`modcrop`, for training and `translate eval sr` alike), and OpenCV's ``INTER_CUBIC`` /
  ``INTER_AREA`` give different pixels and other numbers.
- :func:`add_rain` draws rain streaks as in the de-raining literature (thresholded noise, line
  motion blur at the streak angle, Gaussian widening, blended onto the clean image).
- :func:`make_mask` draws inpainting holes (centre square, random block, free-form strokes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# MATLAB's cubic kernel is Keys' convolution kernel with a = -0.5, support [-2, 2].
_CUBIC_SUPPORT = 4.0


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def resize_weights(
    in_length: int, out_length: int, scale: float, antialias: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Weights and source indices that resize one axis as MATLAB ``imresize`` (bicubic) does.

    Returns ``(weights, indices)``, both (out_length, taps): output sample ``i`` is
    ``sum_k weights[i, k] * input[indices[i, k]]`` with 0-based ``indices``. When shrinking
    (``scale < 1``) with ``antialias`` the kernel is stretched by ``1 / scale`` (a low-pass
    filter matched to the new sampling rate); source positions outside the axis are mirrored
    symmetrically (``... 2 1 | 1 2 3 ... n | n n-1 ...``), as MATLAB pads.
    """
    if in_length < 1 or out_length < 1:
        raise ValueError(f"axis lengths must be >= 1, got {in_length} -> {out_length}")
    if antialias and scale < 1:
        width = _CUBIC_SUPPORT / scale

        def kernel(x):
            return scale * _cubic(scale * x)
    else:
        width, kernel = _CUBIC_SUPPORT, _cubic
    # MATLAB's 1-based geometry: output sample x sits at u in input coordinates.
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    positions = left[:, None] + np.arange(taps)[None, :]
    weights = kernel(u[:, None] - positions)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length)[::-1]])
    indices = mirror[(positions.astype(np.int64) - 1) % (2 * in_length)]
    return weights, indices


def _resize_axis(img: np.ndarray, weights: np.ndarray, indices: np.ndarray, axis: int) -> np.ndarray:
    # One vectorised gather-multiply-add per tap keeps memory at the output size (a dense
    # (out, in) matrix product would be mostly zeros and far slower); the resized axis is
    # moved first so each gather copies whole contiguous rows.
    src = np.ascontiguousarray(np.moveaxis(img, axis, 0))
    scale_shape = (-1,) + (1,) * (src.ndim - 1)
    out = np.zeros((weights.shape[0],) + src.shape[1:], np.float64)
    for k in range(weights.shape[1]):
        out += src[indices[:, k]] * weights[:, k].reshape(scale_shape)
    return np.moveaxis(out, 0, axis)


def imresize_matlab(
    img: np.ndarray, scale: float | tuple[float, float] | None = None,
    output_shape: tuple[int, int] | None = None, antialias: bool = True,
) -> np.ndarray:
    """Resize an image exactly as MATLAB ``imresize(img, scale)`` with the default bicubic method.

    ``img`` is (H, W) or (H, W, C), float (any range, kept unclipped as in MATLAB) or
    uint8 / uint16 (then, like MATLAB, each axis pass is rounded and saturated to that type and the
    result has the input dtype). Give ``scale`` (one factor or (row, column) factors; output size
    ``ceil(scale * size)``) or ``output_shape`` (rows, columns). The axis with the smaller factor is
    resized first, as MATLAB does. Float inputs are computed in float64 and returned in their own
    float dtype.
    """
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) array, got {getattr(img, 'shape', type(img))}")
    if (scale is None) == (output_shape is None):
        raise ValueError("give exactly one of scale and output_shape")
    in_shape = img.shape[:2]
    if scale is not None:
        scales = (float(scale), float(scale)) if np.isscalar(scale) else tuple(map(float, scale))
        if len(scales) != 2 or min(scales) <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        # The epsilon keeps e.g. 300 * (1/3) from rounding up to 101 through float error.
        out_shape = tuple(max(1, math.ceil(n * s - 1e-9)) for n, s in zip(in_shape, scales))
    else:
        if len(output_shape) != 2 or min(output_shape) < 1:
            raise ValueError(f"output_shape must be two positive sizes, got {output_shape}")
        out_shape = (int(output_shape[0]), int(output_shape[1]))
        scales = tuple(o / n for o, n in zip(out_shape, in_shape))

    integer = np.issubdtype(img.dtype, np.integer)
    if integer and img.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"integer images must be uint8 or uint16, got {img.dtype}")
    out = img.astype(np.float64)
    for axis in sorted((0, 1), key=lambda a: scales[a]):  # stable: rows first on ties
        if out_shape[axis] == in_shape[axis] and scales[axis] == 1.0:
            continue  # the cubic kernel at integer offsets is the identity
        weights, indices = resize_weights(in_shape[axis], out_shape[axis], scales[axis], antialias)
        out = _resize_axis(out, weights, indices, axis)
        if integer:
            info = np.iinfo(img.dtype)
            out = np.clip(np.round(out), info.min, info.max)
    return out.astype(img.dtype) if (integer or img.dtype != np.float64) else out


def modcrop(hr: np.ndarray, scale: int) -> np.ndarray:
    """Crop an (H, W[, C]) image at the bottom / right to multiples of ``scale`` (as the SR benchmarks do)."""
    h, w = hr.shape[:2]
    return hr[: h - h % scale, : w - w % scale]


def make_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """The LR image of an (H, W, 3) HR image: MATLAB bicubic ``imresize(hr, 1/scale)``.

    ``hr`` uint8 -> uint8 (rounded after each axis as MATLAB does); float in [0, 1] -> float
    in [0, 1] rounded to 8-bit levels. H and W must be multiples of ``scale``.
    """
    if hr.shape[0] % scale or hr.shape[1] % scale:
        raise ValueError(f"HR size {hr.shape[:2]} is not a multiple of the scale {scale}; modcrop it first")
    if hr.dtype == np.uint8:
        return imresize_matlab(hr, 1.0 / scale)
    lr = imresize_matlab(hr.astype(np.float64), 1.0 / scale)
    return (np.clip(np.round(lr * 255.0), 0, 255) / 255.0).astype(np.float32)


@dataclass(frozen=True)
class RainParams:
    """Parameters of :func:`add_rain`.

    ``density``: fraction of pixels that seed a streak, in (0, 1); ``angle``: streak direction in
    degrees from vertical (positive = counter-clockwise); ``length``: streak length in px;
    ``width``: Gaussian sigma in px that widens the streaks (0 = one-pixel streaks);
    ``intensity``: opacity of an isolated streak at its brightest, in (0, 1]; ``veil``: the
    brightness, in [0, 1), that the mist of heavy rain adds to every pixel (Rain100H and
    RainTrainH add about 0.03-0.15 besides their streaks; Rain100L adds none).
    """

    density: float
    angle: float
    length: int
    width: float
    intensity: float
    veil: float = 0.0


def random_rain_params(rng: np.random.Generator | int | None = None, light_fraction: float = 0.5) -> RainParams:
    """Draw :class:`RainParams`: light drizzle with probability ``light_fraction``, else heavy rain.

    Light: sparse, short, thin, faint streaks and no mist; heavy: dense, long, wider, brighter
    streaks at steeper angles over a veil of mist (ranges chosen to look like Rain100L /
    Rain100H respectively).
    """
    if not 0.0 <= light_fraction <= 1.0:
        raise ValueError(f"light_fraction must be in [0, 1], got {light_fraction}")
    rng = np.random.default_rng(rng)
    if rng.random() < light_fraction:
        return RainParams(density=float(rng.uniform(0.001, 0.003)), angle=float(rng.uniform(-15, 15)),
                          length=int(rng.integers(15, 31)), width=float(rng.uniform(0.3, 0.5)),
                          intensity=float(rng.uniform(0.3, 0.5)))
    return RainParams(density=float(rng.uniform(0.004, 0.01)), angle=float(rng.uniform(-30, 30)),
                      length=int(rng.integers(25, 46)), width=float(rng.uniform(0.5, 0.9)),
                      intensity=float(rng.uniform(0.45, 0.7)), veil=float(rng.uniform(0.0, 0.15)))


def _line_kernel(length: int, angle: float) -> np.ndarray:
    """A normalised motion-blur kernel: a vertical line of ``length`` px rotated by ``angle`` deg."""
    size = length + 2 + (length % 2 == 0)  # odd, with room for the interpolated line ends
    kernel = np.zeros((size, size), np.float32)
    top = (size - length) // 2
    kernel[top:top + length, size // 2] = 1.0
    centre = ((size - 1) / 2.0, (size - 1) / 2.0)
    rotation = cv2.getRotationMatrix2D(centre, angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (size, size), flags=cv2.INTER_LINEAR)
    return kernel / kernel.sum()


def _streaks(seeds: np.ndarray, line: np.ndarray, width: float) -> np.ndarray:
    # Seed blur makes drops a couple of px wide before they are smeared along the fall direction.
    layer = cv2.GaussianBlur(seeds, (0, 0), 0.6)
    layer = cv2.filter2D(layer, -1, line)
    if width > 0:
        layer = cv2.GaussianBlur(layer, (0, 0), width)
    return layer


def add_rain(
    clean: np.ndarray, *, density: float, angle: float, length: int, width: float,
    intensity: float, seed: int, veil: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Add synthetic rain streaks to ``clean`` ((H, W, 3) or (H, W); float in [0, 1] or uint8).

    Uniform noise kept above ``1 - density`` seeds the streaks, which are slightly blurred,
    smeared by a line kernel of ``length`` px at ``angle``, widened by a Gaussian of sigma
    ``width`` and scaled so an isolated streak peaks at ``intensity``. The streak layer ``s``
    (white rain) is screen-blended over the clean image brightened by the mist ``veil``:
    ``base = min(clean + veil, 1)``, ``rainy = base + s * (1 - base)``, i.e. alpha blending
    towards white with opacity ``s``. Returns ``(rainy, streak_layer)``: (H, W, 3) / (H, W)
    float32 in [0, 1]. Deterministic for a given ``seed``.
    """
    if not 0.0 < density < 1.0:
        raise ValueError(f"density must be in (0, 1), got {density}")
    if not 0.0 <= veil < 1.0:
        raise ValueError(f"veil must be in [0, 1), got {veil}")
    if length < 1 or width < 0 or not 0.0 < intensity <= 1.0:
        raise ValueError(f"need length >= 1, width >= 0, 0 < intensity <= 1; got {length}, {width}, {intensity}")
    if clean.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {clean.shape}")
    image = clean.astype(np.float32) / 255.0 if clean.dtype == np.uint8 else clean.astype(np.float32)
    h, w = image.shape[:2]
    rng = np.random.default_rng(seed)
    noise = rng.random((h, w), dtype=np.float32)
    brightness = rng.uniform(0.6, 1.0, size=(h, w)).astype(np.float32)  # streaks differ in brightness
    seeds = np.where(noise >= 1.0 - density, brightness, 0.0).astype(np.float32)

    line = _line_kernel(int(length), float(angle))
    # The response to one isolated seed gives the scale at which a lone streak peaks at 1.
    probe_size = line.shape[0] + 8 * int(math.ceil(width + 1))
    probe = np.zeros((probe_size, probe_size), np.float32)
    probe[probe_size // 2, probe_size // 2] = 1.0
    peak = float(_streaks(probe, line, width).max())
    streak = np.clip(_streaks(seeds, line, width) / peak, 0.0, 1.0) * intensity

    blend = streak[..., None] if image.ndim == 3 else streak
    image = np.minimum(image + veil, 1.0) if veil else image
    rainy = image + blend * (1.0 - image)
    return np.clip(rainy, 0.0, 1.0).astype(np.float32), streak.astype(np.float32)


MASK_KINDS = ("centre", "block", "strokes")


def make_mask(
    size: int | tuple[int, int], kind: str = "centre", rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """An inpainting mask: (H, W) uint8, 255 inside the hole, 0 elsewhere.

    ``size`` is H = W or (H, W). ``kind``: ``"centre"`` — the (H/2, W/2) square in the middle
    (Context Encoders' centre hole, e.g. 64x64 at [32:96] for 128); ``"block"`` — one rectangle
    with random sides in [1/4, 1/2] of the image at a random place; ``"strokes"`` — free-form
    brush strokes (random walks drawn with lines and round joints of random width).
    ``rng`` is a numpy Generator or seed; the centre mask does not use it.
    """
    h, w = (size, size) if np.isscalar(size) else (int(size[0]), int(size[1]))
    if h < 4 or w < 4:
        raise ValueError(f"mask size must be at least 4x4, got {h}x{w}")
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; use one of {', '.join(MASK_KINDS)}")
    mask = np.zeros((h, w), np.uint8)
    if kind == "centre":
        hh, hw = h // 2, w // 2
        top, left = (h - hh) // 2, (w - hw) // 2
        mask[top:top + hh, left:left + hw] = 255
        return mask
    rng = np.random.default_rng(rng)
    if kind == "block":
        bh = int(rng.integers(max(1, h // 4), h // 2 + 1))
        bw = int(rng.integers(max(1, w // 4), w // 2 + 1))
        top, left = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        mask[top:top + bh, left:left + bw] = 255
        return mask
    side = min(h, w)
    for _ in range(int(rng.integers(2, 6))):
        brush = int(rng.integers(max(2, side // 32), max(3, side // 10) + 1))
        x, y = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        direction = float(rng.uniform(0, 2 * np.pi))
        for _ in range(int(rng.integers(3, 10))):
            direction += float(rng.uniform(-np.pi / 3, np.pi / 3))
            step = float(rng.uniform(side / 16, side / 5))
            nx = float(np.clip(x + step * np.cos(direction), 0, w - 1))
            ny = float(np.clip(y + step * np.sin(direction), 0, h - 1))
            cv2.line(mask, (round(x), round(y)), (round(nx), round(ny)), 255, brush, cv2.LINE_8)
            cv2.circle(mask, (round(nx), round(ny)), brush // 2, 255, -1)
            x, y = nx, ny
    return mask
