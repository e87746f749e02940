"""Resolving models (official .pth files, zoo names with --weights) and the Python API."""

import numpy as np
import pytest
import torch

import translate
from translate.errors import TranslateError
from translate.models.loading import load_model
from translate.nets.build import build_generator

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
    assert t(random_image(33, 21, c=1)).shape == (33, 21)  # gray in, gray out (tests/run/test_gray.py)
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


def test_bn_train_mode_is_the_reference_test_protocol(tmp_path):
    # The reference test.py without --eval: net.train() (per-image batch norm, dropout on), one
    # image at a time. --bn-train-mode must give the very outputs (same dropout draws) and leave
    # the weights as they were.
    path = tmp_path / "unet.pth"
    state = save_official_generator(path, "unet_128", ngf=4)
    image = random_image(128, 128)
    reference = build_generator("unet_128", ngf=4, norm="batch", use_dropout=True)
    reference.load_state_dict(state)
    reference.train()
    torch.manual_seed(7)
    with torch.no_grad():
        # contiguous as the pipeline's batches: dropout masks are drawn in memory order
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)[None]) / 255.0).float() * 2 - 1
        expected = ((reference(x)[0] * 0.5 + 0.5).clamp(0, 1) * 255).numpy().transpose(1, 2, 0)
    t = translate.load(str(path), device="cpu", bn_train_mode=True)
    torch.manual_seed(7)
    out = t(image).astype(np.float32)
    assert np.abs(out - expected).max() <= 0.51  # the output is rounded to uint8
    eval_mode = translate.load(str(path), device="cpu")(image).astype(np.float32)
    assert np.abs(out - eval_mode).mean() > 5  # not what eval mode gives
    for key, value in t.backend.net.state_dict().items():
        assert torch.equal(value, state[key]), key  # running statistics untouched


def test_bn_train_mode_normalises_each_image_of_a_batch_alone(tmp_path):
    from translate.nets.layers import reference_test_mode
    from translate.run.inference import TorchBackend

    net = build_generator("unet_128", ngf=4, norm="batch", use_dropout=False)  # no dropout: deterministic
    assert reference_test_mode(net) == sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules()) > 0
    x = np.random.default_rng(0).normal(size=(2, 3, 128, 128)).astype(np.float32)
    x[1] *= 0.2  # another contrast: shared statistics would change both outputs
    alone = np.concatenate([TorchBackend(net, per_image=True)(x[i:i + 1]) for i in range(2)])
    np.testing.assert_allclose(TorchBackend(net, per_image=True)(x), alone, atol=1e-5)
    assert not np.allclose(TorchBackend(net)(x), alone, atol=1e-3)


def test_bn_train_mode_refused_or_warned_where_it_does_nothing(resnet_pth, capsys):
    with pytest.raises(TranslateError, match="bn-train-mode"):
        translate.load("model.onnx", bn_train_mode=True)
    translate.load(str(resnet_pth), device="cpu", bn_train_mode=True)  # instance norm, no dropout
    assert "changes nothing" in capsys.readouterr().err


def test_run_cli_bn_train_mode(tmp_path):
    from translate.cli import main
    from translate.imageio import write_image

    model = tmp_path / "unet.pth"
    save_official_generator(model, "unet_128", ngf=4)
    write_image(tmp_path / "in.png", random_image(40, 50))
    assert main(["run", str(model), str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--device", "cpu",
                 "--bn-train-mode"]) == 0
    assert (tmp_path / "out.png").is_file()


@pytest.mark.parametrize("name,other", [("facades-label2photo", "AtoB"), ("shoes-edges2photo", "AtoB"),
                                        ("facades-cyclegan-label2photo", "AtoB")])
def test_a_one_way_shipped_model_refuses_the_other_direction(name, other):
    """A shipped / zoo file holds one generator: asking for the other direction is a clear error, not
    silently the same network (the card says which way it goes, whatever the task)."""
    from translate.run.inference import load

    assert load(name, device="cpu", direction="BtoA").card.direction == "BtoA"  # its own way is fine
    with pytest.raises(TranslateError, match=rf"{name} translates one way only \(BtoA\)"):
        load(name, device="cpu", direction=other)
