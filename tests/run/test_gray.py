"""Gray in, gray out: an RGB model given a 1-channel (or gray + alpha) image writes it back gray,
the luma of what it makes of the image as RGB, as Real-ESRGAN does; on the PyTorch (.pth) and the
ONNX runtime paths, for files and arrays, 8 and 16 bits. RGB input (even with equal channels)
stays RGB, and models with gray input or output keep giving RGB."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage

from tests.helpers import random_image, save_official_generator, write_png
from translate.cli import main
from translate.export.onnx import export_onnx
from translate.imageio import decode_image, encode_image, read_image
from translate.models.cards import ModelCard
from translate.models.loading import load_model
from translate.run.inference import TorchBackend
from translate.run.pipeline import Translator, keeps_gray
from translate.run.runtime import Session


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny random ResNet generator (its output of a gray image is coloured) as .pth and .onnx."""
    folder = tmp_path_factory.mktemp("gray")
    pth = folder / "tiny.pth"
    save_official_generator(pth, "resnet_2blocks", ngf=8, norm="instance", seed=3)
    net, card = load_model(str(pth))
    onnx_path = export_onnx(net, card, folder / "tiny.onnx").path
    return {"pth": (pth, Translator(TorchBackend(net), card)), "onnx": (onnx_path, Session(onnx_path, device="cpu"))}


def _luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of an (H, W, 3) uint8 / uint16 RGB array, as float."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return 0.299 * r + 0.587 * g + 0.114 * b


def _write_gray_alpha_png(path, gray: np.ndarray, alpha: np.ndarray):
    PILImage.fromarray(np.dstack([gray, alpha])).save(path)  # (H, W, 2) uint8: mode LA, png colour type 4
    return path


@pytest.mark.parametrize("kind", ["pth", "onnx"])
def test_translate_run_writes_a_gray_file_back_gray(models, kind, tmp_path):
    model, translator = models[kind]
    gray = random_image(34, 30, c=1, seed=1)
    as_rgb = translator(np.repeat(gray[..., None], 3, axis=2))
    assert np.abs(as_rgb[..., 0].astype(int) - as_rgb[..., 2]).max() > 10  # the model colours gray input
    src = write_png(tmp_path / "gray.png", gray)
    assert main(["run", str(model), str(src), "-o", str(tmp_path / "out.png"), "--device", "cpu"]) == 0
    written = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert written.shape == (34, 30) and written.dtype == np.uint8
    assert np.abs(written - _luma(as_rgb)).max() <= 1  # the luma of the RGB result (rounded once more)
    # an RGB file with three equal channels is RGB, as in Real-ESRGAN: it stays RGB
    src3 = write_png(tmp_path / "equal.png", np.repeat(gray[..., None], 3, axis=2))
    assert main(["run", str(model), str(src3), "-o", str(tmp_path / "out3.png"), "--device", "cpu"]) == 0
    assert cv2.imread(str(tmp_path / "out3.png"), cv2.IMREAD_UNCHANGED).shape == (34, 30, 3)


@pytest.mark.parametrize("kind", ["pth", "onnx"])
def test_gray_with_alpha_stays_gray_with_its_alpha(models, kind, tmp_path):
    _, translator = models[kind]
    gray, alpha = random_image(28, 36, c=1, seed=2), random_image(28, 36, c=1, seed=5)
    src = _write_gray_alpha_png(tmp_path / "la.png", gray, alpha)
    assert read_image(src).gray and read_image(src).alpha is not None
    translator.translate_file(src, tmp_path / "out.png")
    with PILImage.open(tmp_path / "out.png") as out:
        assert out.mode == "LA"
        planes = np.asarray(out)
    assert np.array_equal(planes[..., 1], alpha)  # scale 1: the alpha plane is kept as it is
    as_rgb = translator(np.repeat(gray[..., None], 3, axis=2))
    assert np.abs(planes[..., 0] - _luma(as_rgb)).max() <= 1
    # RGBA with colour stays RGBA
    rgba = random_image(28, 36, c=4, seed=4)
    translator.translate_file(write_png(tmp_path / "rgba.png", rgba), tmp_path / "rgba_out.png")
    assert cv2.imread(str(tmp_path / "rgba_out.png"), cv2.IMREAD_UNCHANGED).shape == (28, 36, 4)
    # where a format has no gray + alpha that OpenCV reads back (tiff, webp, 16-bit png): RGBA with equal channels
    translator.translate_file(src, tmp_path / "out.tif")
    tif = cv2.imread(str(tmp_path / "out.tif"), cv2.IMREAD_UNCHANGED)
    assert tif.shape == (28, 36, 4) and np.array_equal(tif[..., 3], alpha)
    assert np.array_equal(tif[..., 0], tif[..., 1]) and np.array_equal(tif[..., 0], planes[..., 0])


@pytest.mark.parametrize("kind", ["pth", "onnx"])
def test_sixteen_bit_gray_and_arrays_keep_their_layout(models, kind, tmp_path):
    _, translator = models[kind]
    deep = random_image(20, 24, c=1, dtype=np.uint16, seed=6)
    translator.translate_file(write_png(tmp_path / "deep.png", deep), tmp_path / "deep_out.png")
    written = cv2.imread(str(tmp_path / "deep_out.png"), cv2.IMREAD_UNCHANGED)
    assert written.shape == (20, 24) and written.dtype == np.uint16
    as_rgb = translator(np.repeat(deep[..., None], 3, axis=2))
    assert np.abs(written - _luma(as_rgb)).max() <= 1
    assert translator(deep).shape == (20, 24) and translator(deep).dtype == np.uint16
    assert translator(deep[..., None]).shape == (20, 24, 1)
    assert translator(random_image(20, 24, seed=7)).shape == (20, 24, 3)
    rgb, alpha = translator.translate(read_image(tmp_path / "deep.png"), outscale=1.5)
    assert rgb.shape == (30, 36, 1) and alpha is None


def _identity(batch: np.ndarray) -> np.ndarray:
    return batch


@pytest.mark.parametrize("generator, gray_back", [
    ({"arch": "numpy"}, True),
    ({"arch": "numpy", "input_nc": 3, "output_nc": 3}, True),
    ({"arch": "numpy", "input_nc": 1}, False),  # a gray-input model: output RGB as before
])
def test_models_with_gray_input_or_output_keep_rgb_output(generator, gray_back):
    card = ModelCard(name="test/numpy", task="test", generator=generator, multiple=4)
    assert keeps_gray(card) == gray_back
    gray = random_image(16, 20, c=1, seed=8)
    out = Translator(_identity, card)(gray)
    assert out.shape == ((16, 20) if gray_back else (16, 20, 3))
    assert np.abs(out.astype(int) - (gray if gray_back else gray[..., None])).max() <= 1  # identity: same gray


def test_gray_output_model_keeps_rgb_output():
    card = ModelCard(name="test/numpy", task="test", generator={"arch": "numpy", "output_nc": 1}, multiple=4)
    assert not keeps_gray(card)
    out = Translator(lambda batch: batch[:, :1], card)(random_image(16, 20, c=1, seed=9))
    assert out.shape == (16, 20, 3)


def test_encode_and_decode_gray_and_gray_alpha():
    gray = random_image(9, 7, c=1, seed=10)
    for ext in (".png", ".jpg", ".tif", ".bmp"):
        decoded = decode_image(encode_image(gray[..., None], ext))
        assert decoded.gray and decoded.alpha is None, ext
    alpha = random_image(9, 7, c=1, seed=11)
    la = decode_image(encode_image(gray[..., None], ".png", alpha))
    assert la.gray and np.array_equal((la.alpha * 255).round().astype(np.uint8), alpha)
    assert np.array_equal((la.rgb[..., 0] * 255).round().astype(np.uint8), gray)
    # an RGBA file whose colour channels happen to be equal is still RGBA: the file says so
    rgba = np.dstack([gray, gray, gray, alpha])
    _, data = cv2.imencode(".png", rgba)
    assert not decode_image(data.tobytes()).gray
    buffer = io.BytesIO()
    PILImage.fromarray(np.dstack([gray, alpha])).save(buffer, "PNG")
    assert decode_image(buffer.getvalue()).gray


def test_serve_answers_a_gray_upload_with_the_gray_file_translate_run_writes(models, tmp_path):
    pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'translate-gan[serve]')")
    pytest.importorskip("python_multipart", reason="the serve extra is not installed")
    from fastapi.testclient import TestClient

    from translate.run.serve import Limits, create_app, load_models

    model, _ = models["pth"]
    src = write_png(tmp_path / "gray.png", random_image(30, 26, c=1, seed=12))
    assert main(["run", str(model), str(src), "-o", str(tmp_path / "out.png"), "--device", "cpu"]) == 0
    with TestClient(create_app(load_models([str(model)], device="cpu"), Limits())) as client:
        response = client.post("/v1/translate?model=tiny", files={"image": ("gray.png", src.read_bytes(), "image/png")})
    assert response.status_code == 200, response.text
    assert cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_UNCHANGED).shape == (30, 26)
    assert response.content == (tmp_path / "out.png").read_bytes()
