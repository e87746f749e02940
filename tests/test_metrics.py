"""Tests of translate.metrics: MATLAB-convention PSNR / SSIM, and the published bicubic baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from translate.data.degradations import imresize_matlab
from translate.imageio import read_image, to_uint
from translate.metrics import psnr, rgb_to_y, ssim


def _image(h=48, w=40, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(20, 200, (h, w, 3)).astype(np.uint8)


def test_rgb_to_y_is_matlab_bt601():
    pixels = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    np.testing.assert_allclose(rgb_to_y(pixels)[0], [16, 235, 16 + 65.481, 16 + 128.553, 16 + 24.966], atol=1e-9)
    img = _image()
    np.testing.assert_allclose(rgb_to_y(img.astype(np.float32) / 255), rgb_to_y(img), atol=1e-4)
    with pytest.raises(ValueError):
        rgb_to_y(img[..., 0])


def test_psnr_identical_is_inf_and_constant_offset_is_known():
    img = _image()
    assert psnr(img, img) == math.inf
    for d in (1, 5, 20):
        shifted = img + np.uint8(d)
        assert psnr(img, shifted) == pytest.approx(20 * math.log10(255 / d), abs=1e-9)
        # The same offset on R, G and B moves Y by d * (65.481 + 128.553 + 24.966) / 255 = d * 219 / 255.
        assert psnr(img, shifted, y_channel=True) == pytest.approx(20 * math.log10(255 / (d * 219 / 255)), abs=1e-9)
    as_float = psnr(img.astype(np.float64) / 255, (img + np.uint8(5)).astype(np.float64) / 255)
    assert as_float == pytest.approx(20 * math.log10(255 / 5), abs=1e-9)


def test_crop_border_removes_the_border_before_measuring():
    img = _image()
    damaged = img.copy()
    damaged[:3] = 0
    damaged[:, -3:] = 255
    assert psnr(img, damaged) < 20
    assert psnr(img, damaged, crop_border=3) == math.inf
    assert ssim(img, damaged, crop_border=3) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        psnr(img, img[:-1])


def test_ssim_of_constant_images_follows_the_formula():
    # Zero variance leaves only the luminance term (2 m1 m2 + C1) / (m1^2 + m2^2 + C1).
    c1 = (0.01 * 255) ** 2
    a, b = np.full((32, 32, 3), 100, np.uint8), np.full((32, 32, 3), 140, np.uint8)
    assert ssim(a, b) == pytest.approx((2 * 100 * 140 + c1) / (100 ** 2 + 140 ** 2 + c1), rel=1e-9)


def test_ssim_identical_is_one_and_degrades_with_noise():
    img = _image(64, 64)
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-12)
    assert ssim(img, img, y_channel=True) == pytest.approx(1.0, abs=1e-12)
    rng = np.random.default_rng(1)
    light = np.clip(img + rng.normal(0, 5, img.shape), 0, 255).astype(np.uint8)
    heavy = np.clip(img + rng.normal(0, 40, img.shape), 0, 255).astype(np.uint8)
    assert 1 > ssim(img, light) > ssim(img, heavy) > 0
    assert ssim(img, light) == pytest.approx(ssim(light, img), abs=1e-12)
    per_channel = [ssim(img[..., c], light[..., c]) for c in range(3)]
    assert ssim(img, light) == pytest.approx(np.mean(per_channel), abs=1e-12)
    with pytest.raises(ValueError):
        ssim(img[:10, :10], img[:10, :10])


def test_bicubic_x4_baseline_on_set5_is_the_published_28_43_db(shared_data):
    # The published bicubic x4 Set5 PSNR-Y (28.43 dB) comes from MATLAB: modcrop HR to a multiple
    # of 4, LR = imresize(HR, 1/4), SR = imresize(LR, 4), PSNR on Y with a 4-pixel border removed.
    folder = shared_data / "sr" / "Set5"
    files = sorted(folder.glob("*.png"))
    if len(files) != 5:
        pytest.skip(f"{folder} does not hold the 5 Set5 images")
    scores, similarities = [], []
    for f in files:
        hr = to_uint(read_image(f).rgb)
        hr = hr[: hr.shape[0] // 4 * 4, : hr.shape[1] // 4 * 4]
        sr = imresize_matlab(imresize_matlab(hr, 1 / 4), 4)
        scores.append(psnr(hr, sr, crop_border=4, y_channel=True))
        similarities.append(ssim(hr, sr, crop_border=4, y_channel=True))
    assert np.mean(scores) == pytest.approx(28.43, abs=0.02)
    assert np.mean(similarities) == pytest.approx(0.811, abs=0.003)


def _filter_valid(z: np.ndarray, window: np.ndarray) -> np.ndarray:
    """MATLAB ``filter2(window, z, 'valid')``: the window's weighted sum wherever it fits inside ``z``."""
    return np.einsum("ijkl,kl->ij", np.lib.stride_tricks.sliding_window_view(z, window.shape), window)


def _matlab_ssim_index(x: np.ndarray, y: np.ndarray, pad: str | None = None) -> float:
    """Wang et al.'s MATLAB ``ssim_index`` written out here, independent of translate.metrics (no OpenCV):
    ``fspecial('gaussian', 11, 1.5)``, K = (0.01, 0.03), L = 255, float64, statistics by 'valid'
    filtering, mean of the SSIM map. ``pad`` ('reflect' = OpenCV's default border, 'constant' = zeros
    as MATLAB's 'same') pads by 5 first: a 'same'-window SSIM, the wrong one."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    if pad is not None:
        x, y = np.pad(x, 5, mode=pad), np.pad(y, 5, mode=pad)
    r = np.arange(11) - 5.0
    window = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5 ** 2))
    window /= window.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu1, mu2 = _filter_valid(x, window), _filter_valid(y, window)
    sigma1_sq = _filter_valid(x * x, window) - mu1 ** 2
    sigma2_sq = _filter_valid(y * y, window) - mu2 ** 2
    sigma12 = _filter_valid(x * y, window) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * sigma12 + c2)) / ((mu1 ** 2 + mu2 ** 2 + c1) * (sigma1_sq + sigma2_sq + c2))
    return float(ssim_map.mean())


def _ssim_pair(h=24, w=28) -> tuple[np.ndarray, np.ndarray]:
    """A fixed small pair: a smooth ramp with texture, and a copy whose edge band is noisier than its
    middle, so statistics near the border (only a 'same' window sees them) weigh in."""
    rng = np.random.default_rng(22)
    ramp = np.add.outer(np.linspace(30, 200, h), np.linspace(0, 40, w))
    a = np.clip(ramp + rng.normal(0, 12, (h, w)), 0, 255).astype(np.uint8)
    noise = rng.normal(0, 6, (h, w))
    edge = np.ones((h, w), bool)
    edge[4:-4, 4:-4] = False
    noise[edge] = rng.normal(0, 40, int(edge.sum()))
    b = np.clip(a + noise, 0, 255).astype(np.uint8)
    return a, b


def test_ssim_is_the_matlab_ssim_index_with_a_valid_window():
    # Set5's SSIM moves only 0.8111 -> 0.8106 with a 'same' window (inside that test's tolerance);
    # on a small image the window's border handling decides the number.
    a, b = _ssim_pair()
    expected = _matlab_ssim_index(a, b)
    assert 0.3 < expected < 0.95
    assert ssim(a, b) == pytest.approx(expected, abs=1e-6)
    for pad in ("reflect", "constant"):  # the 'same'-window variants really are far from it
        assert abs(_matlab_ssim_index(a, b, pad) - expected) > 1e-2, pad
    rgb_a = np.stack([a, np.flipud(a), np.fliplr(a)], axis=2)
    rgb_b = np.stack([b, np.flipud(b), np.fliplr(b)], axis=2)
    per_channel = [_matlab_ssim_index(rgb_a[..., c], rgb_b[..., c]) for c in range(3)]
    assert ssim(rgb_a, rgb_b) == pytest.approx(np.mean(per_channel), abs=1e-6)
    # crop_border removes pixels first, then the window stays inside what is left.
    assert ssim(a, b, crop_border=2) == pytest.approx(_matlab_ssim_index(a[2:-2, 2:-2], b[2:-2, 2:-2]), abs=1e-6)
