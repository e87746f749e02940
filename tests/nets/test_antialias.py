"""Anti-aliased (blurred) down / up-sampling in the CUT reference's checkpoint layout, and the
encoder-feature hook PatchNCE reads (issue #23)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from translate.cli import main
from translate.nets.antialias import BlurDownsample, BlurUpsample
from translate.nets.build import build_discriminator, build_generator, infer_generator_config


def cut_reference_resnet_keys(n_blocks=9, ngf=64, antialias=True, antialias_up=True):
    """Key -> shape of the CUT reference's ResnetGenerator (instance norm), written from its
    models/networks.py: ReflectionPad, Conv7, IN, ReLU; per downsampling either Conv3 s2, IN, ReLU
    or (anti-aliased) Conv3 s1, IN, ReLU, Downsample (buffer ``filt`` [C,1,3,3]); the blocks; per
    upsampling either ConvT3, IN, ReLU or Upsample (``filt`` [C,1,4,4]), Conv3, IN, ReLU; then
    ReflectionPad, Conv7, Tanh."""
    keys, i = {}, 1
    keys.update({f"model.{i}.weight": (ngf, 3, 7, 7), f"model.{i}.bias": (ngf,)})
    i = 4
    for c in (ngf, 2 * ngf):
        keys.update({f"model.{i}.weight": (2 * c, c, 3, 3), f"model.{i}.bias": (2 * c,)})
        if antialias:
            keys[f"model.{i + 3}.filt"] = (2 * c, 1, 3, 3)
            i += 4
        else:
            i += 3
    c = 4 * ngf
    for _ in range(n_blocks):
        for j in (1, 5):
            keys.update({f"model.{i}.conv_block.{j}.weight": (c, c, 3, 3), f"model.{i}.conv_block.{j}.bias": (c,)})
        i += 1
    for c in (4 * ngf, 2 * ngf):
        if antialias_up:
            keys[f"model.{i}.filt"] = (c, 1, 4, 4)
            keys.update({f"model.{i + 1}.weight": (c // 2, c, 3, 3), f"model.{i + 1}.bias": (c // 2,)})
            i += 4
        else:
            keys.update({f"model.{i}.weight": (c, c // 2, 3, 3), f"model.{i}.bias": (c // 2,)})
            i += 3
    keys.update({f"model.{i + 1}.weight": (3, ngf, 7, 7), f"model.{i + 1}.bias": (3,)})
    return keys


def reference_filters(shapes):
    """The fixed blur filters the reference stores: [1,2,1]^2 / 16 (down), [1,3,3,1]^2 / 64 * 4 (up)."""
    down, up = np.outer([1, 2, 1], [1, 2, 1]) / 16, np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64 * 4
    return {k: torch.tensor(down if s[-1] == 3 else up, dtype=torch.float32).expand(*s).clone()
            for k, s in shapes.items() if k.endswith(".filt")}


def cut_reference_state(**kwargs):
    shapes = cut_reference_resnet_keys(**kwargs)
    g = torch.Generator().manual_seed(0)
    state = {k: torch.randn(*s, generator=g) * 0.05 for k, s in shapes.items()}
    state.update(reference_filters(shapes))
    return state


def test_cut_latest_net_G_layout_loads_strictly_and_is_recognised_from_its_keys():
    state = cut_reference_state()
    assert len(state) == 52 and "model.30.weight" in state  # 48 CycleGAN keys + 4 blur filters
    config = infer_generator_config(state)
    assert config["arch"] == "resnet_9blocks" and config["antialias"] and config["antialias_up"]
    net = build_generator(**config)
    assert set(net.state_dict()) == set(state)
    net.load_state_dict(state, strict=True)
    for key in ("model.7.filt", "model.25.filt"):  # our filters are the reference's values
        assert torch.allclose(build_generator(**config).state_dict()[key], state[key])


@pytest.mark.parametrize("antialias,antialias_up", [(False, True), (True, False)])
def test_one_sided_antialias_layouts_are_told_apart(antialias, antialias_up):
    state = cut_reference_state(n_blocks=6, ngf=8, antialias=antialias, antialias_up=antialias_up)
    config = infer_generator_config(state)
    assert config.get("antialias", False) == antialias and config.get("antialias_up", False) == antialias_up
    build_generator(**config).load_state_dict(state, strict=True)


def test_translate_run_runs_a_cut_reference_file(tmp_path: Path):
    path = tmp_path / "latest_net_G.pth"
    torch.save(cut_reference_state(n_blocks=9, ngf=8), path)
    image = tmp_path / "in.png"
    cv2.imwrite(str(image), np.random.default_rng(0).integers(0, 256, (40, 52, 3), dtype=np.uint8))
    out = tmp_path / "out.png"
    assert main(["run", str(path), str(image), "-o", str(out), "--device", "cpu"]) == 0
    result = cv2.imread(str(out))
    assert result.shape == (40, 52, 3) and result.std() > 0
    from translate.models.loading import load_model

    _, card = load_model(str(path))
    assert card.task == "cut" and card.generator["antialias"] and card.generator["antialias_up"]


def test_blur_layers_keep_a_constant_image_and_halve_or_double_the_size():
    x = torch.full((1, 4, 10, 14), 0.3)
    down, up = BlurDownsample(4)(x), BlurUpsample(4)(x)
    assert down.shape == (1, 4, 5, 7) and torch.allclose(down, x[..., :5, :7])
    assert up.shape == (1, 4, 20, 28) and torch.allclose(up, torch.full_like(up, 0.3))


def test_blur_downsampling_removes_the_highest_frequency_a_strided_conv_aliases():
    stripes = torch.tensor([1.0, -1.0] * 8).repeat(16, 1)[None, None]  # period-2 columns
    assert BlurDownsample(1)(stripes).abs().max() < 1e-6  # blurred away, not aliased to a constant +-1
    assert stripes[..., ::2, ::2].abs().min() == 1


def test_antialiased_patchgan_layout_and_output_size():
    d = build_discriminator("basic", input_nc=3, ndf=8, norm="instance", antialias=True)
    assert list(d.state_dict()) == ["model.0.weight", "model.0.bias", "model.2.filt", "model.3.weight",
                                    "model.3.bias", "model.6.filt", "model.7.weight", "model.7.bias",
                                    "model.10.filt", "model.11.weight", "model.11.bias", "model.14.weight",
                                    "model.14.bias"]
    assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)


def test_encode_returns_the_outputs_of_the_chosen_layers_and_stops_there():
    net = build_generator("resnet_9blocks", ngf=8, antialias=True, antialias_up=True)
    x = torch.rand(1, 3, 32, 32)
    feats = net.encode(x, [0, 4, 8, 12, 16])
    want, h = [], x
    for i, layer in enumerate(net.model[:17]):
        h = layer(h)
        if i in (0, 4, 8, 12, 16):
            want.append(h)
    assert all(torch.equal(a, b) for a, b in zip(feats, want))
    # padded input, full-resolution 2 ngf conv, half-resolution 4 ngf conv, two residual blocks at 1/4
    assert [tuple(f.shape[1:]) for f in feats] == [(3, 38, 38), (16, 32, 32), (32, 16, 16), (32, 8, 8), (32, 8, 8)]
    with pytest.raises(ValueError, match="ascending"):
        net.encode(x, [4, 0])
    with pytest.raises(ValueError, match="ascending"):
        net.encode(x, [0, len(net.model)])
