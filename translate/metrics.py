"""PSNR and SSIM as the MATLAB super-resolution / restoration evaluations compute them (no torch).

Convention (the one behind published SRGAN / de-raining tables): images on [0, 255] in float64,
optionally reduced to the Y channel of MATLAB's ``rgb2ycbcr`` (BT.601 studio range), ``crop_border``
pixels removed from every side, SSIM with an 11x11 Gaussian window (sigma 1.5) evaluated only where
the window fits ('valid'). ``kornia.color.rgb_to_ycbcr`` is full range and ``kornia.metrics.psnr``
pools the error over a batch, so they give other numbers.
"""

from __future__ import annotations

import cv2
import numpy as np

_Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64)


def _to_255(img: np.ndarray) -> np.ndarray:
    """uint8 as is, uint16 rescaled, float taken as [0, 1]; -> float64 on [0, 255]."""
    if not isinstance(img, np.ndarray):
        raise TypeError(f"expected a numpy array, got {type(img).__name__}")
    if img.dtype == np.uint8:
        return img.astype(np.float64)
    if img.dtype == np.uint16:
        return img.astype(np.float64) * (255.0 / 65535.0)
    if np.issubdtype(img.dtype, np.floating):
        return img.astype(np.float64) * 255.0
    raise TypeError(f"images must be uint8, uint16 or float in [0, 1]; got {img.dtype}")


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """Y of MATLAB ``rgb2ycbcr`` for an (H, W, 3) RGB image (uint8, or float in [0, 1]).

    ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` with R, G, B in [0, 1]; returns (H, W) float64
    on the [0, 255] scale (16..235 for in-range input), not rounded.
    """
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {img.shape}")
    return 16.0 + _to_255(img) @ (_Y_WEIGHTS / 255.0)


def _prepare(a: np.ndarray, b: np.ndarray, crop_border: int, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim not in (2, 3):
        raise ValueError(f"expected (H, W) or (H, W, C) images, got shape {a.shape}")
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    if y_channel:
        x, y = rgb_to_y(a), rgb_to_y(b)
    else:
        x, y = _to_255(a), _to_255(b)
    if crop_border:
        x = x[crop_border:-crop_border, crop_border:-crop_border]
        y = y[crop_border:-crop_border, crop_border:-crop_border]
        if x.size == 0:
            raise ValueError(f"crop_border {crop_border} leaves nothing of a {a.shape[:2]} image")
    return x, y


def psnr(a: np.ndarray, b: np.ndarray, *, crop_border: int = 0, y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio in dB between two images of the same shape, peak 255.

    ``a``, ``b``: (H, W, 3) RGB (or (H, W) when ``y_channel`` is False), uint8 or float in
    [0, 1]. The mean squared error is taken over all kept pixels (and channels) in float64;
    identical images give ``inf``.
    """
    x, y = _prepare(a, b, crop_border, y_channel)
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def _ssim_plane(x: np.ndarray, y: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = cv2.getGaussianKernel(11, 1.5)
    window = g @ g.T

    def local_mean(z: np.ndarray) -> np.ndarray:
        return cv2.filter2D(z, -1, window)[5:-5, 5:-5]  # 'valid': only where the window fits

    mu_x, mu_y = local_mean(x), local_mean(y)
    var_x = local_mean(x * x) - mu_x ** 2
    var_y = local_mean(y * y) - mu_y ** 2
    cov = local_mean(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean())


def ssim(a: np.ndarray, b: np.ndarray, *, crop_border: int = 0, y_channel: bool = False) -> float:
    """Structural similarity (Wang et al. 2004) as the MATLAB reference code computes it.

    Same inputs as :func:`psnr`. 11x11 Gaussian window with sigma 1.5, C1 = (0.01*255)^2,
    C2 = (0.03*255)^2, statistics only where the window fits inside the (cropped) image; an
    RGB image gives the mean of the per-channel SSIMs. Images must be at least 11x11 after cropping.
    """
    x, y = _prepare(a, b, crop_border, y_channel)
    if min(x.shape[:2]) < 11:
        raise ValueError(f"SSIM needs at least 11x11 pixels after cropping, got {x.shape[:2]}")
    if x.ndim == 2:
        return _ssim_plane(x, y)
    return float(np.mean([_ssim_plane(x[..., c], y[..., c]) for c in range(x.shape[2])]))
