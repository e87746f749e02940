"""Label palettes: nearest-colour classes, palette files, and deriving the facades colours."""

import json

import cv2
import numpy as np
import pytest

from translate.data.layouts import split_aligned
from translate.errors import TranslateError
from translate.eval.palettes import FACADES, Palette, derive_palette, draw, load_palette, to_classes
from translate.imageio import list_images, read_image, to_uint


def test_to_classes_nearest_colour_uint8_and_float():
    ids = np.arange(12).reshape(3, 4)
    image = draw(ids, FACADES)
    assert image.dtype == np.uint8 and (to_classes(image, FACADES) == ids).all()
    assert (to_classes(image.astype(np.float32) / 255, FACADES) == ids).all()
    noisy = np.clip(image.astype(int) + np.random.default_rng(0).integers(-12, 13, image.shape), 0, 255)
    assert (to_classes(noisy.astype(np.uint8), FACADES) == ids).all()
    with pytest.raises(ValueError):
        to_classes(np.zeros((4, 4)), FACADES)
    with pytest.raises(ValueError):
        draw(np.full((2, 2), 12), FACADES)


def test_palette_json_round_trip_and_bad_files(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(FACADES.to_json())
    loaded = load_palette(path)
    assert loaded.classes == FACADES.classes and (loaded.colours == FACADES.colours).all()
    assert load_palette("facades") is FACADES
    for bad in ("{", '{"classes": [{"name": "a"}]}', '{"classes": [{"name": "a", "rgb": [1, 2, 300]},'
                '{"name": "b", "rgb": [0, 0, 0]}]}', '{"classes": [{"name": "a", "rgb": [1, 2, 3]}]}'):
        path.write_text(bad)
        with pytest.raises(TranslateError, match="p.json"):
            load_palette(path)
    with pytest.raises(TranslateError, match="neither a known palette"):
        load_palette(tmp_path / "missing.json")


def test_derive_palette_recovers_colours_through_jpeg():
    """Rectangles of 4 colours, JPEG-compressed (blurred borders): the derived colours are the true ones."""
    truth = np.array([(0, 0, 222), (0, 128, 255), (255, 80, 0), (192, 255, 63)], np.uint8)
    rng = np.random.default_rng(0)
    maps = []
    for _ in range(6):
        ids = np.zeros((96, 96), np.int64)
        for _ in range(12):
            y, x, h, w = rng.integers(0, 80, 4)
            ids[y:y + 8 + h // 4, x:x + 8 + w // 4] = rng.integers(1, 4)
        ok, jpg = cv2.imencode(".jpg", np.ascontiguousarray(truth[ids][..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 75])
        maps.append(cv2.imdecode(jpg, cv2.IMREAD_COLOR)[..., ::-1].copy())
    derived = derive_palette(maps, 4)
    for colour in derived.astype(int):
        assert np.abs(truth.astype(int) - colour).sum(1).min() <= 6
    with pytest.raises(ValueError, match="only"):
        derive_palette(maps, 6)


def test_facades_palette_is_what_the_training_label_maps_give(shared_data):
    train = shared_data / "paired" / "facades" / "train"
    if not train.is_dir():
        pytest.skip(f"{train} not present")
    maps = [to_uint(split_aligned(read_image(p).rgb)[1]) for p in list_images(train)[:120]]
    derived = derive_palette(maps, 12)
    for colour in FACADES.colours.astype(int):  # every palette colour is found again, to 2 levels
        assert np.abs(derived.astype(int) - colour).max(1).min() <= 2


def test_palette_shape_checks():
    with pytest.raises(ValueError):
        Palette("x", ("a", "b"), np.zeros((3, 3)))
    assert json.loads(FACADES.to_json())["classes"][2] == {"name": "window", "rgb": [0, 128, 255]}
