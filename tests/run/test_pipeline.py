"""Tests for translate.run.pipeline with small numpy backends (no torch, no model files)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from translate.errors import TranslateError
from translate.imageio import Image
from translate.models.cards import ModelCard
from translate.run.pipeline import (MAX_TILES, Translator, blend_window, check_tiling, pad_to_multiple, run_backend,
                                   tile_count, tile_starts, translate_image)

NORM = dict(mean=0.5, std=0.5)


def random_rgb(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, 3), dtype=np.float32)


def identity(batch: np.ndarray) -> np.ndarray:
    return batch.copy()


def upsample2(batch: np.ndarray) -> np.ndarray:
    """A scale-2 backend: nearest-neighbour upsampling."""
    return batch.repeat(2, axis=2).repeat(2, axis=3)


def box_blur(radius: int):
    """A local backend: (2r+1)^2 box blur with zero padding, so tile edges are visibly wrong."""

    def backend(batch: np.ndarray) -> np.ndarray:
        h, w = batch.shape[2:]
        padded = np.pad(batch, ((0, 0), (0, 0), (radius, radius), (radius, radius)))
        shifts = [padded[:, :, dy:dy + h, dx:dx + w] for dy in range(2 * radius + 1) for dx in range(2 * radius + 1)]
        return np.mean(shifts, axis=0)

    return backend


def subtract_tile_mean(batch: np.ndarray) -> np.ndarray:
    """A backend with global statistics, like InstanceNorm: each input sees only its own mean."""
    return batch - batch.mean(axis=(2, 3), keepdims=True)


class Recorder:
    """Wraps a backend, asserts every input's H and W are multiples, records the input shapes."""

    def __init__(self, inner, multiple: int):
        self.inner, self.multiple, self.shapes = inner, multiple, []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        assert batch.dtype == np.float32 and batch.ndim == 4
        assert batch.shape[2] % self.multiple == 0 and batch.shape[3] % self.multiple == 0, batch.shape
        self.shapes.append(batch.shape)
        return self.inner(batch)


def test_pad_to_multiple_reflects_even_when_pad_exceeds_image():
    x = random_rgb(3, 5)
    padded, size = pad_to_multiple(x, 256)
    assert size == (3, 5) and padded.shape == (256, 256, 3)
    np.testing.assert_array_equal(padded[:3, :5], x)
    np.testing.assert_array_equal(padded[3, :5], x[1])  # reflect without repeating the edge row
    np.testing.assert_array_equal(padded[4, :5], x[0])
    np.testing.assert_array_equal(padded[:3, 5], x[:, 3])
    assert np.isin(padded, x).all()
    same, _ = pad_to_multiple(x[:, :4, 0], 1)
    assert same.shape == (3, 4)


@pytest.mark.parametrize("size, multiple, tile", [
    ((301, 257), 4, 0), ((301, 257), 4, 64), ((1, 1), 4, 0), ((1, 2), 8, 16), ((3, 5), 256, 0), ((3, 5), 256, 256),
])
def test_identity_round_trip_keeps_size_and_values(size, multiple, tile):
    rgb = random_rgb(*size)
    recorder = Recorder(identity, multiple)
    out = run_backend(rgb, recorder, **NORM, multiple=multiple, tile=tile, tile_overlap=8)
    assert out.shape == rgb.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, rgb, atol=1e-6)
    assert recorder.shapes


@pytest.mark.parametrize("size, tile", [((301, 257), 0), ((37, 53), 16), ((3, 5), 0)])
def test_scale_two_backend_gives_twice_the_size(size, tile):
    rgb = random_rgb(*size)
    out = run_backend(rgb, Recorder(upsample2, 8), **NORM, multiple=8, scale=2, tile=tile, tile_overlap=4)
    assert out.shape == (2 * size[0], 2 * size[1], 3)
    np.testing.assert_allclose(out, rgb.repeat(2, axis=0).repeat(2, axis=1), atol=1e-6)


@pytest.mark.parametrize("radius, overlap", [(1, 4), (2, 8)])
@pytest.mark.parametrize("tile", [16, 24, 40])
def test_tiling_a_local_network_equals_the_untiled_result(radius, overlap, tile):
    rgb = random_rgb(75, 90)  # not a multiple of any tile size, nor of the size multiple
    backend = box_blur(radius)
    whole = run_backend(rgb, backend, **NORM, multiple=4)
    tiled = run_backend(rgb, Recorder(backend, 4), **NORM, multiple=4, tile=tile, tile_overlap=overlap)
    assert np.abs(tiled - whole).max() <= 1 / 255


def test_tiling_without_overlap_shows_the_tile_edges():
    # The check above can fail: abutting tiles keep each tile's wrong (zero-padded) edge pixels.
    rgb = random_rgb(75, 90)
    whole = run_backend(rgb, box_blur(1), **NORM, multiple=4)
    tiled = run_backend(rgb, box_blur(1), **NORM, multiple=4, tile=16, tile_overlap=0)
    assert np.abs(tiled - whole).max() > 0.1


def test_tiling_a_scale_two_local_network_equals_the_untiled_result():
    def blur_then_upsample(batch):
        return upsample2(box_blur(1)(batch))

    rgb = random_rgb(45, 70)
    whole = run_backend(rgb, blur_then_upsample, **NORM, multiple=4, scale=2)
    tiled = run_backend(rgb, blur_then_upsample, **NORM, multiple=4, scale=2, tile=24, tile_overlap=8)
    assert tiled.shape == (90, 140, 3)
    assert np.abs(tiled - whole).max() <= 1 / 255


def smooth_image(height: int, width: int) -> np.ndarray:
    """Fine texture on a large-scale variation, so tile means differ more than neighbouring pixels."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    gray = 0.5 + 0.1 * np.sin(xx / 2.5) * np.sin(yy / 3.0) + 0.3 * np.sin(xx / 37 + 1) * np.cos(yy / 29)
    return np.repeat(gray[..., None], 3, axis=2).astype(np.float32)


def largest_step(y: np.ndarray) -> float:
    """The largest difference between adjacent rows or columns (a seam is a large step)."""
    return float(max(np.abs(np.diff(y, axis=0)).max(), np.abs(np.diff(y, axis=1)).max()))


def test_blending_hides_seams_of_a_network_with_global_statistics():
    rgb = smooth_image(112, 128)
    whole = run_backend(rgb, subtract_tile_mean, **NORM, multiple=4)
    blended = run_backend(rgb, subtract_tile_mean, **NORM, multiple=4, tile=48, tile_overlap=24)
    abutting = run_backend(rgb, subtract_tile_mean, **NORM, multiple=4, tile=48, tile_overlap=0)
    # Tiles really differ from the whole image ...
    assert np.abs(blended - whole).max() > 0.1
    # ... abutting tiles make steps far above any step in the untiled output ...
    assert largest_step(abutting) > 3 * largest_step(whole)
    # ... and the blend leaves no step larger than the image itself has.
    assert largest_step(blended) <= 1.5 * largest_step(whole)


@pytest.mark.parametrize("tile, batch_size, multiple", [(32, 1, 4), (32, 3, 4), (30, 2, 8)])
def test_backend_only_ever_sees_bounded_batches_of_tiles(tile, batch_size, multiple):
    recorder = Recorder(identity, multiple)
    rgb = random_rgb(100, 90)
    out = run_backend(rgb, recorder, **NORM, multiple=multiple, tile=tile, tile_overlap=8, batch_size=batch_size)
    np.testing.assert_allclose(out, rgb, atol=1e-6)
    tile_size = -(-tile // multiple) * multiple
    assert len(recorder.shapes) > 1
    assert all(b <= batch_size and h <= tile_size and w <= tile_size for b, _, h, w in recorder.shapes)
    assert max(b * h * w for b, _, h, w in recorder.shapes) <= batch_size * tile_size**2
    padded_h, padded_w = -(-100 // multiple) * multiple, -(-90 // multiple) * multiple
    tiles = len(tile_starts(padded_h, tile_size, 8)) * len(tile_starts(padded_w, tile_size, 8))
    assert sum(b for b, *_ in recorder.shapes) == tiles
    assert tile_count((100, 90), tile, 8, multiple) == tiles  # the count check_tiling bounds


def test_overlap_of_more_than_half_a_tile_is_refused():
    """Stride 1 (--tile 16 --tile-overlap 15) would be a network call per pixel row and column."""
    with pytest.raises(ValueError) as refused:
        check_tiling(16, 15)
    assert str(refused.value) == ("--tile-overlap 15 is more than half of --tile 16: each tile would add only 1 new "
                                  "px; use --tile-overlap 8 or less")
    for tile, overlap in ((16, 9), (33, 17), (512, 257)):
        with pytest.raises(ValueError, match=f"use --tile-overlap {tile // 2} or less"):
            check_tiling(tile, overlap)
        check_tiling(tile, tile // 2)  # the value the line suggests works


@pytest.mark.parametrize("tile, overlap, size, multiple", [
    (512, 32, (32768, 32768), 1),  # the suggested --tile 512 on the largest image the decoders read (2^30 px)
    (512, 32, (16384, 65536), 4),
    (256, 32, (2000, 2000), 4),  # the README's tiled benchmark (sr-x4)
    (64, 16, (257, 301), 4), (32, 8, (1080, 1920), 4), (16, 8, (512, 512), 4),
])
def test_documented_and_sensible_tilings_pass(tile, overlap, size, multiple):
    check_tiling(tile, overlap, multiple, size=size)
    assert tile_count(size, tile, overlap, multiple) <= MAX_TILES


def test_too_many_tiles_are_refused_before_the_network_runs():
    calls = []
    translator = Translator(lambda batch: calls.append(batch.shape) or batch.copy(), card())
    image = Image(rgb=np.zeros((800, 1000, 3), np.float32))  # 99 x 124 tiles of 16 px, 8 apart
    with pytest.raises(TranslateError) as refused:
        translator.translate(image, tile=16, tile_overlap=8)
    assert str(refused.value) == ("--tile 16 --tile-overlap 8: a 1000x800 image would take 12276 tiles, more than 8192 "
                                  "(a network call each); use --tile 20 or more (or 0 for no tiles)")
    assert calls == []
    # 20 is the least tile that fits (17 to 20 run as 20, the card's multiple of 4)
    assert tile_count((800, 1000), 20, 8, 4) <= MAX_TILES < tile_count((800, 1000), 16, 8, 4)
    # The count is arithmetic: a 1 x 2^30 px image is refused at once, without a list of its tiles.
    with pytest.raises(ValueError, match="would take 134217727 tiles"):
        check_tiling(16, 8, size=(1, 2 ** 30))


def test_tile_starts_cover_and_end_at_the_end():
    assert tile_starts(20, 32, 8) == [0]
    assert tile_starts(32, 32, 8) == [0]
    starts = tile_starts(100, 32, 8)
    assert starts[0] == 0 and starts[-1] == 100 - 32
    assert all(0 < b - a <= 32 - 8 for a, b in zip(starts, starts[1:]))


@pytest.mark.parametrize("length, tile, overlap", [(100, 32, 8), (75, 16, 4), (64, 24, 20), (41, 40, 3)])
def test_blend_weights_never_sum_below_one(length, tile, overlap):
    total = np.zeros(length, np.float32)
    for start in tile_starts(length, tile, overlap):
        total[start:start + tile] += blend_window(tile, overlap, start > 0, start + tile < length)
    assert total.min() >= 1 - 1e-6


def test_one_channel_model_sees_luma_and_output_becomes_rgb():
    rgb = random_rgb(20, 30)
    seen = []

    def gray_identity(batch):
        seen.append(batch.shape[1])
        return batch.copy()

    out = run_backend(rgb, gray_identity, **NORM, multiple=4, in_channels=1)
    luma = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    assert seen == [1] and out.shape == (20, 30, 3)
    for c in range(3):
        np.testing.assert_allclose(out[..., c], luma, atol=1e-5)


@pytest.mark.parametrize("tile", [0, 16])
def test_extra_inputs_are_appended_as_raw_channels(tile):
    rgb = random_rgb(33, 41)
    mask = (random_rgb(33, 41, seed=1)[..., 0] > 0.5).astype(np.float32)

    def mask_to_red(batch):
        assert batch.shape[1] == 4
        out = batch[:, :3].copy()
        out[:, 0] = batch[:, 3] * 2 - 1  # mask 0/1 -> normalised 0/1 after y * std + mean
        return out

    out = run_backend(rgb, mask_to_red, **NORM, multiple=4, tile=tile, tile_overlap=8, extra_inputs=mask)
    np.testing.assert_allclose(out[..., 0], mask, atol=1e-6)
    np.testing.assert_allclose(out[..., 1:], rgb[..., 1:], atol=1e-6)


def card(scale: int = 1, input_nc: int = 3) -> ModelCard:
    return ModelCard(name="test/numpy", task="test", generator={"arch": "numpy", "input_nc": input_nc},
                     multiple=4, scale=scale)


def test_translate_image_keeps_alpha_unchanged_at_scale_one():
    rgb, alpha = random_rgb(21, 34), random_rgb(21, 34, seed=2)[..., 0]
    out, out_alpha = translate_image(Image(rgb=rgb, alpha=alpha), identity, card(), tile=16, tile_overlap=4)
    np.testing.assert_allclose(out, rgb, atol=1e-6)
    assert out_alpha is alpha
    out, out_alpha = translate_image(Image(rgb=rgb), identity, card())
    assert out_alpha is None


def test_translate_image_resizes_alpha_at_scale_two():
    rgb = random_rgb(21, 34)
    alpha = np.tile(np.linspace(0, 1, 34, dtype=np.float32), (21, 1))
    out, out_alpha = translate_image(Image(rgb=rgb, alpha=alpha), upsample2, card(scale=2))
    assert out.shape == (42, 68, 3) and out_alpha.shape == (42, 68)
    assert out_alpha.min() >= 0 and out_alpha.max() <= 1
    np.testing.assert_allclose(out_alpha, alpha.repeat(2, axis=0).repeat(2, axis=1), atol=0.03)


def test_translate_image_uses_the_cards_input_channels():
    rgb = random_rgb(16, 16)
    seen = []
    translate_image(Image(rgb=rgb), lambda b: seen.append(b.shape) or b.copy(), card(input_nc=1))
    assert seen == [(1, 1, 16, 16)]


@pytest.mark.parametrize("kwargs", [
    dict(tile=32, tile_overlap=32), dict(tile=32, tile_overlap=40), dict(tile=32, tile_overlap=-1),
    dict(tile=8, tile_overlap=2, multiple=16), dict(in_channels=2), dict(scale=0),
])
def test_bad_arguments_raise_value_error(kwargs):
    args = dict(NORM, multiple=4) | kwargs
    with pytest.raises(ValueError):
        run_backend(random_rgb(40, 40), identity, **args)


def test_backend_with_wrong_output_shape_raises_value_error():
    with pytest.raises(ValueError, match="scale"):
        run_backend(random_rgb(40, 40), upsample2, **NORM, multiple=4, scale=1)
    with pytest.raises(ValueError, match="channels"):
        run_backend(random_rgb(40, 40), lambda b: np.concatenate([b, b], axis=1), **NORM, multiple=4)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_backend_output_with_nan_or_inf_is_a_per_file_error_naming_the_model(bad, tmp_path):
    from tests.helpers import write_png
    from translate.errors import TranslateError
    from translate.run.pipeline import NonFiniteOutputError, Translator

    def broken(batch):
        out = batch.copy()
        out[0, 0, 5, 7] = bad
        return out

    for tile in (0, 16):  # one call, and the tiled path (the tile that holds the value)
        with pytest.raises(NonFiniteOutputError, match="^the model produced NaN or infinite values"):
            run_backend(random_rgb(40, 40), broken, **NORM, multiple=4, tile=tile, tile_overlap=4)
    card = ModelCard(name="bad", task="cyclegan", multiple=4, generator={"arch": "resnet_2blocks", "ngf": 8})
    translator = Translator(broken, card, model_file=tmp_path / "bad.onnx")
    with pytest.raises(TranslateError) as e:
        translator(np.zeros((24, 24, 3), np.uint8))
    assert str(e.value).startswith(f"model {tmp_path / 'bad.onnx'} produced NaN or infinite values, so nothing was "
                                   f"written") and not e.value.stop_batch  # an fp16 overflow may be this image's only
    src = write_png(tmp_path / "in.png", np.zeros((24, 24, 3), np.uint8))
    with pytest.raises(TranslateError, match=f"^{src}: model .*bad.onnx produced NaN"):
        translator.translate_file(src, tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


def test_importing_the_pipeline_does_not_import_torch():
    code = "import sys, translate.run.pipeline; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
