"""The backbone library reproduces the official checkpoint layouts (REFERENCE.md §1)."""

import pytest
import torch
import torch.nn as nn

from translate.errors import TranslateError
from translate.nets.build import build_discriminator, build_generator, infer_generator_config, load_generator_state
from translate.nets.discriminators import MultiscaleDiscriminator, PatchDiscriminator, PixelDiscriminator
from translate.nets.layers import init_weights, precise_batchnorm
from translate.nets.resnet import ResnetGenerator
from translate.nets.unet import UnetGenerator


def official_resnet_keys(n_blocks=9, ngf=64, old_instance_stats=False):
    """Key -> shape of an official resnet generator (instance norm), written from REFERENCE.md."""
    s = {"model.1.weight": (ngf, 3, 7, 7), "model.1.bias": (ngf,),
         "model.4.weight": (ngf * 2, ngf, 3, 3), "model.4.bias": (ngf * 2,),
         "model.7.weight": (ngf * 4, ngf * 2, 3, 3), "model.7.bias": (ngf * 4,)}
    for b in range(10, 10 + n_blocks):
        for c in (1, 5):
            s[f"model.{b}.conv_block.{c}.weight"] = (ngf * 4, ngf * 4, 3, 3)
            s[f"model.{b}.conv_block.{c}.bias"] = (ngf * 4,)
    up1 = 10 + n_blocks
    s[f"model.{up1}.weight"] = (ngf * 4, ngf * 2, 3, 3)
    s[f"model.{up1}.bias"] = (ngf * 2,)
    s[f"model.{up1 + 3}.weight"] = (ngf * 2, ngf, 3, 3)
    s[f"model.{up1 + 3}.bias"] = (ngf,)
    s[f"model.{up1 + 7}.weight"] = (3, ngf, 7, 7)
    s[f"model.{up1 + 7}.bias"] = (3,)
    if old_instance_stats:  # the published horse2zebra file carries these for every norm layer
        norms = [2, 5, 8, up1 + 1, up1 + 4] + [f"{b}.conv_block.{c}" for b in range(10, 10 + n_blocks) for c in (2, 6)]
        for n in norms:
            ch = 1
            s[f"model.{n}.running_mean"] = (ch,)
            s[f"model.{n}.running_var"] = (ch,)
            s[f"model.{n}.num_batches_tracked"] = ()
    return s


def official_unet_keys(num_downs=8, ngf=64):
    """Key -> shape of an official unet generator with batch norm, written from REFERENCE.md."""
    def bn(prefix, c):
        return {f"{prefix}.weight": (c,), f"{prefix}.bias": (c,), f"{prefix}.running_mean": (c,),
                f"{prefix}.running_var": (c,), f"{prefix}.num_batches_tracked": ()}
    # channels (outer, inner) from the outermost level inwards
    levels = [(3, ngf), (ngf, ngf * 2), (ngf * 2, ngf * 4), (ngf * 4, ngf * 8)] + [(ngf * 8, ngf * 8)] * (num_downs - 4)
    s = {"model.model.0.weight": (ngf, 3, 4, 4), "model.model.3.weight": (ngf * 2, 3, 4, 4), "model.model.3.bias": (3,)}
    prefix = "model.model.1"
    for depth, (outer, inner) in enumerate(levels[1:], start=1):
        innermost = depth == num_downs - 1
        s[f"{prefix}.model.1.weight"] = (inner, outer, 4, 4)
        if innermost:
            s[f"{prefix}.model.3.weight"] = (inner, outer, 4, 4)
            s.update(bn(f"{prefix}.model.4", outer))
        else:
            s.update(bn(f"{prefix}.model.2", inner))
            s[f"{prefix}.model.5.weight"] = (inner * 2, outer, 4, 4)
            s.update(bn(f"{prefix}.model.6", outer))
            prefix += ".model.3"
    return s


def random_state(shapes):
    return {k: (torch.tensor(7) if shape == () else torch.randn(shape)) for k, shape in shapes.items()}


def test_resnet_9blocks_official_layout_loads_strictly_with_old_instance_norm_keys():
    shapes = official_resnet_keys(old_instance_stats=True)
    net = build_generator("resnet_9blocks", norm="instance")
    assert len(net.state_dict()) == 48
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == {
        k: v for k, v in official_resnet_keys().items()}
    state = random_state(shapes)
    load_generator_state(net, state, "resnet_9blocks")
    assert torch.equal(net.state_dict()["model.26.weight"], state["model.26.weight"])
    out = net.eval()(torch.rand(1, 3, 36, 44) * 2 - 1)
    assert out.shape == (1, 3, 36, 44) and out.abs().max() <= 1


def test_resnet_6blocks_and_batchnorm_and_dropout_layouts():
    assert len(build_generator("resnet_6blocks", norm="instance").state_dict()) == 36
    assert len(build_generator("resnet_9blocks", norm="batch").state_dict()) == 140
    keys = build_generator("resnet_6blocks", norm="instance").state_dict()
    assert {"model.16.weight", "model.19.weight", "model.23.weight"} <= set(keys)
    with_dropout = build_generator("resnet_9blocks", norm="instance", use_dropout=True).state_dict()
    assert "model.10.conv_block.6.weight" in with_dropout and "model.10.conv_block.5.weight" not in with_dropout


def test_unet_256_official_layout_loads_strictly_and_needs_multiples_of_256():
    shapes = official_unet_keys()
    net = build_generator("unet_256", ngf=64, norm="batch", use_dropout=True)
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == shapes
    assert len(shapes) == 82
    load_generator_state(net, random_state(shapes), "unet_256")
    small = build_generator("unet_32", ngf=8, norm="batch").eval()
    assert small(torch.zeros(1, 3, 32, 64)).shape == (1, 3, 32, 64)


def test_parameter_counts_match_reference():
    def count(m):
        return sum(p.numel() for p in m.parameters())
    assert round(count(build_generator("resnet_9blocks", norm="instance")) / 1e6, 3) == 11.378
    assert round(count(build_generator("unet_256", norm="batch")) / 1e6, 3) == 54.414
    assert round(count(PatchDiscriminator(3, 64, 3, "batch")) / 1e6, 3) == 2.766  # 2.765633 M


def test_mismatched_state_dict_names_architecture_and_keys():
    net = build_generator("resnet_9blocks", norm="instance")
    bad = random_state(official_unet_keys(num_downs=5, ngf=8))
    with pytest.raises(TranslateError) as e:
        load_generator_state(net, bad, "resnet_9blocks ngf=64", source="x.pth")
    msg = str(e.value)
    assert "x.pth" in msg and "resnet_9blocks" in msg and "missing" in msg and "model.1.weight" in msg
    assert "\n" not in msg
    wrong_shape = random_state(official_resnet_keys(ngf=32))
    with pytest.raises(TranslateError, match="shape mismatch"):
        load_generator_state(net, wrong_shape, "resnet_9blocks")


def test_infer_generator_config_from_keys():
    cfg = infer_generator_config(random_state(official_resnet_keys(n_blocks=6, ngf=16, old_instance_stats=True)))
    assert cfg["arch"] == "resnet_6blocks" and cfg["ngf"] == 16 and cfg["norm"] == "instance"
    cfg = infer_generator_config(random_state(official_unet_keys(num_downs=7, ngf=8)))
    assert cfg["arch"] == "unet_128" and cfg["norm"] == "batch" and cfg["ngf"] == 8
    assert infer_generator_config({"foo.weight": torch.zeros(1)}) is None


def test_unknown_architecture_is_a_user_error():
    with pytest.raises(TranslateError, match="unknown generator"):
        build_generator("vgg_9000")
    with pytest.raises(TranslateError, match="unknown discriminator"):
        build_discriminator("huge")


def test_patch_discriminator_70x70_output_and_keys():
    d = build_discriminator("basic", input_nc=6)
    assert d(torch.zeros(1, 6, 256, 256)).shape == (1, 1, 30, 30)
    idx = sorted({int(k.split(".")[1]) for k in d.state_dict()})
    assert idx == [0, 2, 3, 5, 6, 8, 9, 11]
    assert PixelDiscriminator(3, 8)(torch.zeros(2, 3, 16, 16)).shape == (2, 1, 16, 16)
    outs = MultiscaleDiscriminator(3, 8, 2, "instance", num_D=3)(torch.zeros(1, 3, 64, 64))
    assert [o.shape[-1] for o in outs] == [14, 6, 2]  # 64->32->16->15->14, then 32.., 16..


@pytest.mark.parametrize("init_type", ["normal", "xavier", "kaiming", "orthogonal"])
def test_init_weights(init_type):
    torch.manual_seed(0)
    net = init_weights(ResnetGenerator(3, 3, ngf=8, norm="batch", n_blocks=1), init_type, gain=0.02)
    w = net.model[1].weight
    assert torch.isfinite(w).all() and w.std() > 0
    if init_type == "normal":
        assert abs(w.std().item() - 0.02) < 0.005
    bn = net.model[2]
    assert abs(bn.weight.mean().item() - 1.0) < 0.05 and bn.bias.abs().max() == 0
    with pytest.raises(ValueError):
        init_weights(net, "uniformish")


def test_unet_rejects_too_few_levels():
    with pytest.raises(ValueError):
        UnetGenerator(num_downs=4)


def test_precise_batchnorm_recomputes_the_statistics_of_a_copy():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Dropout(0.5))
    batches = [torch.randn(2, 3, 8, 8) * 3 + 1 for _ in range(3)]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rng = torch.get_rng_state()
    precise = precise_batchnorm(net, batches)
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())  # the original is untouched
    assert torch.equal(torch.get_rng_state(), rng)  # dropout in train mode drew no numbers from training's RNG
    assert not precise.training and precise[1].momentum == net[1].momentum
    # equal-weight average of the per-batch statistics (per-batch variance is unbiased, as BatchNorm keeps it)
    with torch.no_grad():
        feats = [net[0](x) for x in batches]
    mean = torch.stack([f.mean((0, 2, 3)) for f in feats]).mean(0)
    var = torch.stack([f.transpose(0, 1).reshape(4, -1).var(1) for f in feats]).mean(0)
    assert torch.allclose(precise[1].running_mean, mean, atol=1e-5)
    assert torch.allclose(precise[1].running_var, var, atol=1e-4)
    assert precise[1].num_batches_tracked == 3
    with pytest.raises(ValueError, match="at least one batch"):
        precise_batchnorm(net, [])
