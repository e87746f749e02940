"""Tests of translate.data.degradations: MATLAB bicubic resize, synthetic rain, inpainting masks."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from translate.data.degradations import (RainParams, add_rain, imresize_matlab, make_mask, random_rain_params,
    resize_weights)

# ---------------------------------------------------------------------------------------------
# imresize_matlab
#
# Hand derivation of MATLAB imresize([1 2 3 4; 5 6 7 8; 9 10 11 12; 13 14 15 16], 0.5):
# shrinking by 1/2 stretches the cubic kernel (a = -0.5) to width 8: h(d) = 0.5 * cubic(0.5 d).
# Output sample 1 sits at u = 1/0.5 + 0.5 * (1 - 2) = 1.5; taps at 1-based positions -3..6,
# distances 4.5 .. -4.5, so cubic is taken at 0.25 (0.8671875), 0.75 (0.2265625),
# 1.25 (-0.0703125), 1.75 (-0.0234375), and 2.25 (0). After normalisation (sum 2 -> /2) and
# symmetric mirroring of positions -2, -1, 0 onto 3, 2, 1 and of 5 onto 4, output 1 of a length-4
# signal v is 0.546875 v1 + 0.3984375 v2 + 0.1015625 v3 - 0.046875 v4 (by symmetry output 2 uses
# the reversed weights). On the ramp 1, 2, 3, 4 this gives 1.4609375 and 3.5390625; the matrix is
# row-ramp + 4 * column-ramp, so the 2x2 result is 1 + r + 4 c for r, c in {0.4609375, 2.5390625}.
EDGE_WEIGHTS = np.array([0.546875, 0.3984375, 0.1015625, -0.046875])
HALF_OF_4x4 = np.array([[3.3046875, 5.3828125], [11.6171875, 13.6953125]])


def _effective_weights(in_length: int, out_length: int, scale: float) -> np.ndarray:
    weights, indices = resize_weights(in_length, out_length, scale)
    dense = np.zeros((out_length, in_length))
    for row in range(out_length):
        np.add.at(dense[row], indices[row], weights[row])
    return dense


def test_resize_weights_match_the_hand_derivation():
    dense = _effective_weights(4, 2, 0.5)
    np.testing.assert_allclose(dense[0], EDGE_WEIGHTS, atol=1e-12)
    np.testing.assert_allclose(dense[1], EDGE_WEIGHTS[::-1], atol=1e-12)


def test_imresize_matlab_4x4_half():
    matrix = np.arange(1, 17, dtype=np.float64).reshape(4, 4)
    np.testing.assert_allclose(imresize_matlab(matrix, 0.5), HALF_OF_4x4, atol=1e-12)
    np.testing.assert_allclose(imresize_matlab(matrix, output_shape=(2, 2)), HALF_OF_4x4, atol=1e-12)


@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.5, 2, 3, 4])
def test_linear_ramps_are_reproduced_away_from_the_borders(scale):
    # Keys' cubic (a = -0.5) reproduces linear functions, antialiased or not: in the interior,
    # output sample x (1-based) must equal its source coordinate u = x / s + (1 - 1 / s) / 2.
    n = 96
    ramp = np.tile(np.arange(1, n + 1, dtype=np.float64), (5, 1))
    out = imresize_matlab(ramp, (1.0, scale))
    x = np.arange(1, out.shape[1] + 1)
    u = x / scale + 0.5 * (1 - 1 / scale)
    margin = int(np.ceil(2 / min(scale, 1))) + 2  # kernel half-width in input pixels, plus slack
    interior = (u > margin) & (u < n + 1 - margin)
    assert interior.sum() > 10
    np.testing.assert_allclose(out[:, interior], np.broadcast_to(u[interior], out[:, interior].shape), atol=1e-9)
    assert out.shape == (5, int(np.ceil(n * scale - 1e-9)))


def test_output_shape_dtype_and_channels():
    rng = np.random.default_rng(0)
    img = rng.random((30, 41, 3))
    small = imresize_matlab(img, 0.25)
    assert small.shape == (8, 11, 3) and small.dtype == np.float64  # ceil(30/4), ceil(41/4)
    for c in range(3):  # channels are independent
        np.testing.assert_allclose(small[..., c], imresize_matlab(img[..., c], 0.25))
    assert imresize_matlab(img.astype(np.float32), 2).dtype == np.float32
    assert imresize_matlab(img, output_shape=(17, 9)).shape == (17, 9, 3)
    assert imresize_matlab(np.full((12, 12), 0.7), 1 / 3).shape == (4, 4)  # no 4.0000001 -> 5
    np.testing.assert_allclose(imresize_matlab(np.full((9, 13, 3), 0.7), 0.5), 0.7)  # constants stay


def test_integer_images_are_rounded_and_saturated_like_matlab():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (24, 24, 3)).astype(np.uint8)
    out = imresize_matlab(img, 2)
    assert out.dtype == np.uint8
    # Each axis pass is rounded and clipped to uint8, as MATLAB's per-dimension passes are.
    rows = np.clip(np.round(imresize_matlab(img.astype(np.float64), (2, 1))), 0, 255)
    both = np.clip(np.round(imresize_matlab(rows, (1, 2))), 0, 255)
    np.testing.assert_array_equal(out, both.astype(np.uint8))
    float_out = imresize_matlab(img.astype(np.float64), 2)
    assert float_out.min() < 0 or float_out.max() > 255  # the overshoot that saturation removes


def test_imresize_rejects_bad_arguments():
    img = np.zeros((8, 8))
    for kwargs in ({}, {"scale": 2, "output_shape": (4, 4)}, {"scale": 0}, {"output_shape": (0, 4)}):
        with pytest.raises(ValueError):
            imresize_matlab(img, **kwargs)
    with pytest.raises(ValueError):
        imresize_matlab(np.zeros((2, 2, 2, 2)), 2)


# ---------------------------------------------------------------------------------------------
# rain


def _clean(h=64, w=64, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((h, w, 3)) * 0.6).astype(np.float32)


HEAVY = dict(density=0.01, angle=0.0, length=15, width=0.8, intensity=0.7)


def test_rain_is_deterministic_per_seed():
    clean = _clean()
    a, sa = add_rain(clean, **HEAVY, seed=3)
    b, sb = add_rain(clean, **HEAVY, seed=3)
    c, _ = add_rain(clean, **HEAVY, seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sa, sb)
    assert not np.array_equal(a, c)


def test_rain_brightens_by_screen_blending_its_streak_layer():
    clean = _clean()
    rainy, streak = add_rain(clean, **HEAVY, seed=0)
    assert rainy.shape == clean.shape and streak.shape == clean.shape[:2]
    assert rainy.dtype == np.float32 and 0 <= rainy.min() and rainy.max() <= 1
    assert np.abs(rainy - clean).mean() > 0.01
    np.testing.assert_allclose(rainy, clean + streak[..., None] * (1 - clean), atol=1e-6)
    assert streak.max() <= HEAVY["intensity"] + 1e-6
    gray, gray_streak = add_rain(clean[..., 0], **HEAVY, seed=0)
    assert gray.shape == (64, 64)
    np.testing.assert_array_equal(gray_streak, streak)


def test_density_controls_coverage():
    clean = np.zeros((96, 96, 3), np.float32)
    coverage = [(add_rain(clean, **{**HEAVY, "density": d}, seed=0)[1] > 0.05).mean()
                for d in (0.001, 0.005, 0.02)]
    assert coverage[0] < coverage[1] < coverage[2]
    assert coverage[0] < 0.15 and coverage[2] > 0.4


@pytest.mark.parametrize("angle, along", [(0.0, 0), (90.0, 1)])
def test_streaks_follow_the_angle(angle, along):
    # Along the streaks the layer changes slowly; across them it changes fast.
    _, streak = add_rain(np.zeros((96, 96, 3), np.float32), **{**HEAVY, "angle": angle, "length": 25}, seed=0)
    change_along = np.abs(np.diff(streak, axis=along)).mean()
    change_across = np.abs(np.diff(streak, axis=1 - along)).mean()
    assert change_along < 0.5 * change_across


def test_random_rain_params_cover_light_and_heavy_rain():
    light = [random_rain_params(np.random.default_rng(i), light_fraction=1.0) for i in range(20)]
    heavy = [random_rain_params(np.random.default_rng(i), light_fraction=0.0) for i in range(20)]
    assert max(p.density for p in light) < min(p.density for p in heavy)
    assert max(p.length for p in light) < max(p.length for p in heavy)
    mixed = [random_rain_params(i).density < 0.004 for i in range(40)]
    assert 0 < sum(mixed) < 40
    assert random_rain_params(7) == random_rain_params(7)
    assert isinstance(light[0], RainParams)
    assert all(p.veil == 0 for p in light) and all(0 <= p.veil <= 0.15 for p in heavy)
    assert max(p.veil for p in heavy) > 0.05  # heavy rain brings mist
    for p in light + heavy:  # every drawn set is accepted
        add_rain(np.zeros((16, 16, 3), np.float32), **asdict(p), seed=0)


def test_veil_brightens_every_pixel_under_the_streaks():
    clean = _clean()
    rainy, streak = add_rain(clean, **HEAVY, veil=0.1, seed=0)
    base = np.minimum(clean + 0.1, 1.0)
    np.testing.assert_allclose(rainy, base + streak[..., None] * (1 - base), atol=1e-6)
    dry = streak == 0
    np.testing.assert_allclose((rainy - clean)[dry], np.minimum(0.1, 1 - clean[dry]), atol=1e-6)
    with pytest.raises(ValueError, match="veil"):
        add_rain(clean, **HEAVY, veil=1.0, seed=0)


def test_rain_rejects_bad_parameters():
    with pytest.raises(ValueError):
        add_rain(_clean(), **{**HEAVY, "density": 0.0}, seed=0)
    with pytest.raises(ValueError):
        add_rain(_clean(), **{**HEAVY, "intensity": 1.5}, seed=0)


# ---------------------------------------------------------------------------------------------
# masks


def test_centre_mask_is_the_exact_centre_square():
    mask = make_mask(128, "centre")
    expected = np.zeros((128, 128), np.uint8)
    expected[32:96, 32:96] = 255
    np.testing.assert_array_equal(mask, expected)
    rect = make_mask((64, 96), "centre")
    assert rect.dtype == np.uint8 and rect.shape == (64, 96)
    ys, xs = np.nonzero(rect)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (16, 47, 24, 71)


def test_block_mask_is_one_random_rectangle():
    masks = [make_mask(64, "block", seed) for seed in range(6)]
    for mask in masks:
        ys, xs = np.nonzero(mask)
        box = mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        assert (box == 255).all() and set(np.unique(mask)) <= {0, 255}
        assert 16 <= box.shape[0] <= 32 and 16 <= box.shape[1] <= 32
    assert len({m.tobytes() for m in masks}) > 1
    np.testing.assert_array_equal(make_mask(64, "block", 2), masks[2])


def test_stroke_masks_are_seeded_free_form_holes():
    masks = [make_mask(128, "strokes", np.random.default_rng(seed)) for seed in range(5)]
    for mask in masks:
        assert set(np.unique(mask)) == {0, 255}
        assert 0.01 < (mask > 0).mean() < 0.6
    assert len({m.tobytes() for m in masks}) == 5
    np.testing.assert_array_equal(make_mask(128, "strokes", np.random.default_rng(3)), masks[3])
    with pytest.raises(ValueError):
        make_mask(128, "circle")
