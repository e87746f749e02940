"""`translate run` options of the Real-ESRGAN / rembg conventions: --outscale, --suffix, --ext auto,
--precision / --half, and the devices --device mps / coreml / dml / openvino."""

import cv2
import numpy as np
import onnxruntime
import pytest
import torch

import translate
from translate.cli import main
from translate.imageio import image_from_array, read_image
from translate.run.runtime import OTHER_PROVIDERS

from tests.helpers import random_image, save_official_generator, write_png


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "m.pth"
    save_official_generator(path, "resnet_6blocks", ngf=8)
    return str(path)


def test_outscale_sets_the_output_size_alpha_included(model, tmp_path):
    src = write_png(tmp_path / "rgba.png", random_image(22, 30, c=4, seed=1))
    assert main(["run", model, str(src), "-o", str(tmp_path / "big.png"), "--outscale", "2.5"]) == 0
    assert main(["run", model, str(src), "-o", str(tmp_path / "small.png"), "--outscale", "0.5"]) == 0
    big, small = read_image(tmp_path / "big.png"), read_image(tmp_path / "small.png")
    assert big.size == (55, 75) and big.alpha is not None
    assert small.size == (11, 15) and small.alpha is not None
    # alpha is resized, not translated: its mean stays
    assert abs(float(big.alpha.mean()) - float(read_image(src).alpha.mean())) < 0.02


def test_outscale_of_a_4x_model_resizes_its_output_with_lanczos(tmp_path):
    pytest.importorskip("spandrel", reason="a 4x community model needs spandrel")
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(0)
    torch.save(Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=4).state_dict(), tmp_path / "x4.pth")
    translator = translate.load(str(tmp_path / "x4.pth"), device="cpu")
    image = image_from_array(random_image(20, 26, seed=2))
    native, _ = translator.translate(image)
    same, _ = translator.translate(image, outscale=4)
    np.testing.assert_array_equal(same, native)  # the model's own scale: no resampling at all
    rgb, _ = translator.translate(image, outscale=3.5)
    assert rgb.shape == (70, 91, 3)
    expected = np.clip(cv2.resize(native, (91, 70), interpolation=cv2.INTER_AREA), 0, 1)
    np.testing.assert_allclose(rgb, expected, atol=1e-6)
    up, _ = translator.translate(image, outscale=5)
    np.testing.assert_allclose(up, np.clip(cv2.resize(native, (130, 100), interpolation=cv2.INTER_LANCZOS4), 0, 1),
                               atol=1e-6)


def test_suffix_and_ext_name_the_outputs(model, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    cv2.imwrite(str(src / "a.jpg"), random_image(16, 20, seed=3))
    cv2.imwrite(str(src / "b.bmp"), random_image(16, 20, seed=4))
    write_png(src / "c.png", random_image(16, 20, c=4, seed=5))
    cv2.imwrite(str(src / "d.webp"), random_image(16, 20, c=4, seed=6))
    write_png(src / "e.png", random_image(16, 20, dtype=np.uint16, seed=7))
    assert main(["run", model, str(src), "-o", str(tmp_path / "auto"), "--ext", "auto", "--suffix", "up"]) == 0
    names = sorted(p.name for p in (tmp_path / "auto").iterdir())
    assert names == ["a_up.jpg", "b_up.png", "c_up.png", "d_up.webp", "e_up.png"]
    assert read_image(tmp_path / "auto" / "c_up.png").alpha is not None
    assert read_image(tmp_path / "auto" / "d_up.webp").alpha is not None
    assert read_image(tmp_path / "auto" / "e_up.png").bit_depth == 16
    assert main(["run", model, str(src), "-o", str(tmp_path / "plain"), "--ext", "jpg", "--suffix", ""]) == 0
    assert sorted(p.name for p in (tmp_path / "plain").iterdir()) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"]
    # the defaults are unchanged: <name>_<model>.png beside the input folder
    assert main(["run", model, str(src / "a.jpg")]) == 0
    assert (src / "a_m.png").is_file()
    # an empty suffix beside the input would overwrite it: refused before anything runs
    assert main(["run", model, str(src / "c.png"), "--suffix", ""]) == 2
    assert "c.png" in capsys.readouterr().err


def test_bf16_on_the_cpu_is_close_to_fp32(model):
    image = image_from_array(random_image(32, 40, seed=8))
    fp32, _ = translate.load(model, device="cpu").translate(image)
    bf16_translator = translate.load(model, device="cpu", precision="bf16")
    assert next(bf16_translator.backend.net.parameters()).dtype == torch.bfloat16
    bf16, _ = bf16_translator.translate(image)
    assert bf16.dtype == np.float32 and np.abs(bf16 - fp32).max() <= 0.05
    assert np.abs(bf16 - fp32).mean() <= 0.01


def _one_line_error(args, capsys, fragment):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("translate: error:") and fragment in err, err


@pytest.mark.parametrize("options, fragment", [
    (["--precision", "fp8"], "--precision must be one of fp32, bf16, fp16"),
    (["--outscale", "0"], "--outscale must be a positive number"),
    (["--outscale", "nan"], "--outscale must be a positive number"),
    (["--ext", "gif"], "--ext gif: cannot write '.gif' images"),
    (["--suffix", "a/b"], "--suffix 'a/b': must be part of a file name"),
])
def test_bad_options_are_one_line(model, tmp_path, capsys, options, fragment):
    src = write_png(tmp_path / "a.png", random_image(16, 16))
    _one_line_error(["run", model, str(src), *options], capsys, fragment)


def test_fp16_on_the_cpu_is_one_line(model, tmp_path, capsys):
    src = write_png(tmp_path / "a.png", random_image(16, 16))
    _one_line_error(["run", model, str(src), "--half", "--device", "cpu"], capsys, "fp16 (--half) needs a GPU")


def test_mps_without_an_apple_gpu_is_one_line(model, tmp_path, capsys):
    if torch.backends.mps.is_available():
        pytest.skip("this machine has an Apple GPU")
    src = write_png(tmp_path / "a.png", random_image(16, 16))
    _one_line_error(["run", model, str(src), "--device", "mps"], capsys, "--device mps:")


@pytest.fixture
def onnx_model(model, tmp_path):
    from translate.export.onnx import export_model

    export_model(model, tmp_path / "m.onnx")
    return str(tmp_path / "m.onnx")


def test_onnx_devices_and_precision(onnx_model, tmp_path, capsys):
    src = write_png(tmp_path / "a.png", random_image(16, 16))
    _one_line_error(["run", onnx_model, str(src), "--precision", "bf16"], capsys, "applies to PyTorch models")
    available = onnxruntime.get_available_providers()
    for device, (provider, package) in OTHER_PROVIDERS.items():
        if provider in available:  # the real provider: it runs (with CPU fallback for what it lacks)
            assert main(["run", onnx_model, str(src), "--device", device, "-o", str(tmp_path / f"{device}.png")]) == 0
            assert read_image(tmp_path / f"{device}.png").size == (16, 16)
        else:
            _one_line_error(["run", onnx_model, str(src), "--device", device], capsys, f"has no {provider}; "
                            f"it comes with {package}")
    # --outscale works on the torch-free runtime too
    assert main(["run", onnx_model, str(src), "--outscale", "1.5", "-o", str(tmp_path / "o.png")]) == 0
    assert read_image(tmp_path / "o.png").size == (24, 24)


@pytest.mark.gpu
def test_fp16_and_bf16_on_cuda_are_close_to_fp32(model):
    if not torch.cuda.is_available():
        pytest.skip("needs an NVIDIA GPU (CUDA)")
    image = image_from_array(random_image(64, 48, seed=9))
    fp32, _ = translate.load(model, device="cuda").translate(image)
    for precision, tolerance in (("fp16", 1e-2), ("bf16", 5e-2)):
        out, _ = translate.load(model, device="cuda", precision=precision).translate(image)
        assert np.abs(out - fp32).max() <= tolerance, precision


def test_an_outscale_beyond_the_pixel_limit_skips_the_file_in_one_line(model, tmp_path, capsys, monkeypatch):
    """--outscale 1e9 used to reach cv2.resize with an impossible size (a traceback); now the file is
    reported as too large to write, nothing is written and the input is untouched."""
    src = write_png(tmp_path / "a.png", random_image(16, 16))
    before = src.read_bytes()
    assert main(["run", model, str(src), "-o", str(tmp_path / "o.png"), "--outscale", "1e9"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "would become 16000000000x16000000000" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "o.png").exists() and src.read_bytes() == before
    monkeypatch.setenv("OPENCV_IO_MAX_IMAGE_PIXELS", str(40 * 40))  # the same limit the decoders use
    assert main(["run", model, str(src), "-o", str(tmp_path / "o.png"), "--outscale", "3"]) == 1
    assert "48x48, more than 1600 pixels" in capsys.readouterr().err
    assert main(["run", model, str(src), "-o", str(tmp_path / "o.png"), "--outscale", "2"]) == 0
