"""Speed options of the trainer: --precision, --channels-last, --compile (fallback), fused Adam."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn

from translate import precision
from translate.models.checkpoint import read_checkpoint
from translate.train.config import GANConfig
from translate.train.recipes._gan import adam
from translate.train.trainer import train

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FACADES = DATA / "paired" / "facades_mini"
HORSES = DATA / "unpaired" / "horse2zebra_mini"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="real images in ../shared/data are not available")

TINY = {"data": str(FACADES), "netG": "unet_32", "ngf": 8, "ndf": 8, "load_size": 36, "crop_size": 32,
        "workers": 0, "seed": 5, "print_every": 1, "sample_every": 100, "save_every": 100, "max_iters": 2}


def g_weights(run: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(run / "checkpoints" / "latest.pt")["nets"]["G"]


@needs_data
def test_bf16_pix2pix_on_cpu_trains_with_finite_losses_and_fp32_weights(tmp_path):
    result = train("pix2pix", {**TINY, "precision": "bf16", "out": str(tmp_path / "run")})
    assert result.losses and all(torch.isfinite(torch.tensor(v)) for v in result.losses.values())
    fp32 = train("pix2pix", {**TINY, "out": str(tmp_path / "fp32")})
    a, b = g_weights(result.run_dir), g_weights(fp32.run_dir)
    assert all(v.dtype == torch.float32 for v in a.values() if v.is_floating_point())  # autocast, not .half()
    assert any(not torch.equal(v, b[k]) for k, v in a.items())  # bf16 arithmetic really ran


@pytest.mark.parametrize("preprocess, autotune", [("resize_and_crop", True), ("crop", True), ("none", False)])
def test_cudnn_autotunes_on_cuda_only_when_every_batch_has_one_size(monkeypatch, preprocess, autotune):
    # the flag is process-wide: monkeypatch restores it after the test
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    config = GANConfig(preprocess=preprocess)
    precision.speed_up({}, config, torch.device("cpu"))
    assert torch.backends.cudnn.benchmark is False  # the CPU never touches cuDNN's setting
    precision.speed_up({}, config, torch.device("cuda"))  # sets a flag only: runs without a GPU
    assert torch.backends.cudnn.benchmark is autotune


@needs_data
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler")  # a skipped fp16 step
def test_fp16_saves_and_resumes_the_grad_scaler(tmp_path):
    result = train("pix2pix", {**TINY, "precision": "fp16", "out": str(tmp_path / "run")})
    assert all(torch.isfinite(torch.tensor(v)) for v in result.losses.values())
    saved = read_checkpoint(result.checkpoint)["scaler"]
    # the initial scale 2**16 overflows fp16 gradients: the scaler skipped those steps and backed off
    assert 0 < saved["scale"] < 2.0**16
    resumed = train("pix2pix", {"max_iters": 3}, resume=result.run_dir)
    assert resumed.iteration == 3
    scale = read_checkpoint(resumed.checkpoint)["scaler"]["scale"]
    assert scale in (saved["scale"], saved["scale"] / 2)  # continued from the saved scale, not 2**16


@needs_data
def test_channels_last_changes_layout_not_results(tmp_path):
    nhwc = train("pix2pix", {**TINY, "norm": "instance", "channels_last": True, "out": str(tmp_path / "nhwc")})
    nchw = train("pix2pix", {**TINY, "norm": "instance", "out": str(tmp_path / "nchw")})
    a, b = g_weights(nhwc.run_dir), g_weights(nchw.run_dir)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-3, rtol=1e-3)
    conv = next(v for v in a.values() if v.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last) or conv.shape[2:] == (1, 1)


def test_autocast_uses_the_requested_dtype():
    lin = nn.Linear(4, 4)
    with precision.autocast(torch.device("cpu"), "bf16"):
        assert lin(torch.ones(2, 4)).dtype == torch.bfloat16
    with precision.autocast(torch.device("cpu"), "fp32"):
        assert lin(torch.ones(2, 4)).dtype == torch.float32
    with pytest.raises(ValueError):
        precision.autocast(torch.device("cpu"), "fp8")


def test_compile_falls_back_with_a_warning_when_the_backend_cannot_run(capsys):
    net = nn.Conv2d(3, 3, 3)
    assert not precision.compile_nets({"G": net}, backend="no_such_backend")
    assert "--compile" in capsys.readouterr().err
    assert net._compiled_call_impl is None  # left as it was
    assert precision.compile_nets({"G": net}, backend="eager")  # a backend that needs no compiler
    x = torch.randn(1, 3, 8, 8)
    assert net._compiled_call_impl is not None
    torch.testing.assert_close(net(x), net.forward(x))
    assert set(net.state_dict()) == {"weight", "bias"}  # in place: no "_orig_mod." keys


def test_adam_is_fused_only_on_cuda():
    params = list(nn.Linear(2, 2).parameters())
    assert not adam(params, GANConfig()).defaults["fused"]
    if torch.cuda.is_available():
        cuda = list(nn.Linear(2, 2).cuda().parameters())
        assert adam(cuda, GANConfig()).defaults["fused"]


@needs_data
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler")  # a skipped fp16 step
@pytest.mark.parametrize("recipe", ["srgan", "derain", "inpaint"])
def test_fp16_scales_the_losses_of_every_recipe(tmp_path, recipe, capsys):
    from tests.train.recipes import test_derain as test_recipes_derain, test_inpaint as test_recipes_inpaint
    from tests.train.recipes import test_srgan as test_recipes_srgan

    options = {
        "srgan": {**test_recipes_srgan.TINY, "data": str(DATA / "sr" / "Set5"), "patch_size": 16},
        "derain": {**test_recipes_derain.TINY, "data": str(DATA / "derain" / "RainTrainH_mini")},
        "inpaint": {**test_recipes_inpaint.TINY, "data": str(DATA / "sr" / "Set5")},
    }[recipe]
    result = train(recipe, {**options, "precision": "fp16", "max_iters": 2, "out": str(tmp_path / "run")})
    scaler = read_checkpoint(result.checkpoint)["scaler"]
    # update() ran after each step: the scale backed off (overflow) or its growth counter moved
    assert scaler["scale"] != 2.0**16 or scaler["_growth_tracker"] > 0
    assert "not scaled" not in capsys.readouterr().err
