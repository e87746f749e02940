"""Resolving models (official .pth files, zoo names with --weights) and the Python API."""

import numpy as np
import pytest
import torch

import translate
from translate.errors import TranslateError
from translate.inference import load_model
from translate.nets import build_generator

from tests.helpers import random_image, save_official_generator


@pytest.fixture
def resnet_pth(tmp_path):
    path = tmp_path / "tiny_resnet.pth"
    save_official_generator(path, "resnet_6blocks", ngf=8, old_instance_stats=True)
    return path


def test_official_resnet_file_infers_architecture_and_runs_any_size(resnet_pth):
    net, card = load_model(str(resnet_pth))
    assert card.generator["arch"] == "resnet_6blocks" and card.multiple == 4 and not net.training
    t = translate.load(str(resnet_pth), device="cpu")
    out = t(random_image(257, 301))
    assert out.shape == (257, 301, 3) and out.dtype == np.uint8


def test_output_matches_the_network_on_a_multiple_of_four(resnet_pth):
    t = translate.load(str(resnet_pth), device="cpu")
    img = random_image(64, 48)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255 * 2 - 1
    expected = ((t.backend.net(x)[0].permute(1, 2, 0).detach().numpy() + 1) / 2 * 255).clip(0, 255)
    assert np.abs(t(img).astype(float) - expected).max() <= 0.51


def test_unet_pads_to_256_and_crops_back(tmp_path):
    path = tmp_path / "unet.pth"
    save_official_generator(path, "unet_256", ngf=8)
    t = translate.load(str(path), device="cpu")
    assert t.card.multiple == 256
    assert t(random_image(257, 301)).shape == (257, 301, 3)


def test_gray_rgba_and_16bit_arrays(resnet_pth):
    t = translate.load(str(resnet_pth), device="cpu")
    assert t(random_image(33, 21, c=1)).shape == (33, 21, 3)
    rgba = random_image(40, 36, c=4)
    out = t(rgba)
    assert out.shape == (40, 36, 4) and np.array_equal(out[..., 3], rgba[..., 3])
    deep = t(random_image(20, 24, dtype=np.uint16))
    assert deep.dtype == np.uint16 and deep.shape == (20, 24, 3)
    with pytest.raises(TranslateError, match="shape"):
        t(np.zeros((4, 4, 5), np.uint8))


def test_wrong_arch_is_one_line_error(resnet_pth):
    with pytest.raises(TranslateError) as e:
        load_model(str(resnet_pth), arch="unet_256")
    assert "unet_256" in str(e.value) and "missing" in str(e.value) and "\n" not in str(e.value)


def test_not_a_model(tmp_path):
    with pytest.raises(TranslateError, match="not a zoo model"):
        load_model(str(tmp_path / "nothing.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_text("hello")
    with pytest.raises(TranslateError, match="junk.pth"):
        load_model(str(junk))


def test_zoo_name_with_local_weights_file(tmp_path):
    path = tmp_path / "h2z.pth"
    torch.save(build_generator("resnet_9blocks", norm="instance").state_dict(), path)
    t = translate.load("horse2zebra", weights_file=str(path), device="cpu")
    assert t.card.name == "cyclegan/horse2zebra"
    assert t(random_image(30, 30)).shape == (30, 30, 3)
    with pytest.raises(TranslateError, match="one way"):
        load_model("horse2zebra", direction="BtoA", weights_file=str(path))
    with pytest.raises(TranslateError, match="ambiguous"):
        load_model("sat2map", weights_file=str(path))


def test_cuda_request_without_gpu_is_an_error(resnet_pth):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(TranslateError, match="CUDA"):
        translate.load(str(resnet_pth), device="cuda")
