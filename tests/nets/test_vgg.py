"""VGG19 perceptual features: local-cache-only loading, clear errors, frozen features."""

import pytest
import torch
from torchvision.models.vgg import cfgs, make_layers

from translate.errors import TranslateError
from translate.nets.vgg import VGG19_FILE, PerceptualLoss, VGGFeatureExtractor, vgg19_layer_names, vgg19_weights_path


def _fake_vgg19_file(torch_home, depth: int = 4, seed: int = 0) -> dict:
    """The first ``depth`` torchvision VGG19 feature modules' weights, saved where torchvision caches them."""
    torch.manual_seed(seed)
    state = {f"features.{k}": v for k, v in make_layers(cfgs["E"])[:depth].state_dict().items()}
    path = torch_home / "hub" / "checkpoints" / VGG19_FILE
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return state


def test_layer_names_follow_torchvision_indices():
    names = vgg19_layer_names()
    assert len(names) == len(make_layers(cfgs["E"]))
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert names.index("conv5_4") == 34 and names.index("relu5_4") == 35


def test_missing_weights_error_names_the_path_and_url(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / VGG19_FILE
    assert vgg19_weights_path() == expected
    with pytest.raises(TranslateError) as e:
        VGGFeatureExtractor("conv5_4")
    assert str(expected) in str(e.value) and "download.pytorch.org/models/vgg19-dcbb9e9d.pth" in str(e.value)


def test_fake_weights_load_from_torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    state = _fake_vgg19_file(tmp_path)
    vgg = VGGFeatureExtractor("relu1_2").train()
    torch.testing.assert_close(vgg.features[2].weight, state["features.2.weight"])
    assert not vgg.features.training and not any(p.requires_grad for p in vgg.parameters())
    assert vgg(torch.rand(2, 3, 16, 12)).shape == (2, 64, 16, 12)
    with pytest.raises(TranslateError, match="features.5.weight"):  # deeper than the file holds
        VGGFeatureExtractor("conv2_1")
    with pytest.raises(TranslateError, match="unknown VGG19 layer"):
        VGGFeatureExtractor("conv6_1")


def test_perceptual_loss_is_zero_for_equal_images_and_gives_gradients(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    _fake_vgg19_file(tmp_path)
    loss = PerceptualLoss("conv1_2")
    target = torch.rand(1, 3, 8, 8)
    assert loss(target, target).item() == 0.0
    out = torch.rand(1, 3, 8, 8, requires_grad=True)
    value = loss(out, target)
    value.backward()
    assert value.item() > 0 and out.grad.abs().sum() > 0


def test_unreadable_weights_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = tmp_path / "hub" / "checkpoints" / VGG19_FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(TranslateError, match="cannot read the VGG19 weights"):
        VGGFeatureExtractor("relu1_1")
