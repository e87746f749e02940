"""Community models (ESRGAN / Real-ESRGAN, compact SRVGG, SPAN, SwinIR) through spandrel: state dicts
built from spandrel's own architecture classes, tiny and with random weights, saved as .pth and
.safetensors, then run, tiled, exported and run again torch-free exactly like our own models."""

import warnings

import numpy as np
import pytest
import torch

spandrel = pytest.importorskip("spandrel", reason="community models need the optional spandrel package")

from safetensors.torch import save_file  # noqa: E402
from spandrel.architectures.Compact import Compact  # noqa: E402
from spandrel.architectures.ESRGAN import ESRGAN  # noqa: E402
from spandrel.architectures.SPAN import SPAN  # noqa: E402
from spandrel.architectures.SwinIR import SwinIR  # noqa: E402

import translate  # noqa: E402
from translate.cli import main  # noqa: E402
from translate.imageio import image_from_array, read_image  # noqa: E402
from translate.models import community  # noqa: E402

from tests.helpers import random_image, save_official_generator, write_png  # noqa: E402

# name -> (builder, scale): the smallest networks spandrel still recognises
NETS = {
    "esrgan": (lambda: ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=4), 4),
    "compact": (lambda: Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=4), 4),
    "span": (lambda: SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=2), 2),
    "swinir": (lambda: SwinIR(img_size=16, in_chans=3, embed_dim=12, depths=[1], num_heads=[2], window_size=4,
                              upscale=2, upsampler="pixelshuffle", mlp_ratio=2.0), 2),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Each net of NETS (eval mode) and its weights as ``<name>.pth`` and ``<name>.safetensors``."""
    folder = tmp_path_factory.mktemp("community")
    out = {}
    for i, (name, (build, _)) in enumerate(NETS.items()):
        torch.manual_seed(i)
        with warnings.catch_warnings():  # SwinIR's torch.meshgrid indexing notice
            warnings.simplefilter("ignore")
            net = build().eval()
        state = {k: v.contiguous() for k, v in net.state_dict().items()}
        torch.save(state, folder / f"{name}.pth")
        save_file(state, folder / f"{name}.safetensors")
        out[name] = (net, folder / f"{name}.pth", folder / f"{name}.safetensors")
    return out


def forward(net, rgb: np.ndarray) -> np.ndarray:
    """The network applied directly: (H, W, 3) float in [0, 1] -> (H*s, W*s, 3), clipped as spandrel does."""
    with torch.inference_mode():
        y = net(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())
    return y.clamp(0, 1)[0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize("name, suffix", [("esrgan", ".pth"), ("compact", ".safetensors"), ("span", ".pth"),
                                          ("swinir", ".safetensors")])
def test_run_equals_direct_forward(models, name, suffix):
    net, pth, safetensors = models[name]
    translator = translate.load(str(pth if suffix == ".pth" else safetensors), device="cpu")
    card = translator.card
    assert card.arch == community.ARCH_PREFIX + {"esrgan": "ESRGAN", "compact": "Compact", "span": "SPAN",
                                                 "swinir": "SwinIR"}[name]
    assert (card.scale, card.task, card.mean, card.std) == (NETS[name][1], "sr", 0.0, 1.0)
    assert card.generator["input_nc"] == card.generator["output_nc"] == 3
    # 24 x 20 px: no multiple of anything; SwinIR pads inside to its window of 4.
    image = image_from_array(random_image(20, 24, seed=1))
    rgb, alpha = translator.translate(image)
    assert alpha is None and rgb.shape == (20 * card.scale, 24 * card.scale, 3)
    np.testing.assert_allclose(rgb, forward(net, image.rgb), atol=2e-6)


def test_pth_and_safetensors_give_the_same_model(models):
    _, pth, safetensors = models["compact"]
    a, b = translate.load(str(pth), device="cpu"), translate.load(str(safetensors), device="cpu")
    assert a.card.to_dict() == {**b.card.to_dict(), "source": str(pth), "name": "compact"}
    image = random_image(20, 24, seed=11)
    np.testing.assert_array_equal(a(image), b(image))


def test_keys_with_a_training_prefix_load(models, tmp_path):
    net, pth, _ = models["compact"]
    torch.save({f"netG.{k}": v for k, v in net.state_dict().items()}, tmp_path / "prefixed.pth")
    image = random_image(16, 18, seed=12)
    np.testing.assert_array_equal(translate.load(str(tmp_path / "prefixed.pth"), device="cpu")(image),
                                  translate.load(str(pth), device="cpu")(image))


def test_card_reports_size_requirements_tiling_and_precisions(models):
    swinir = translate.load(str(models["swinir"][1]), device="cpu").card
    assert swinir.extra["min_side"] == 16 and swinir.extra["tiling"] == "discouraged"
    assert "fp16" not in swinir.extra["precisions"]  # spandrel: SwinIR does not support half precision
    compact = translate.load(str(models["compact"][1]), device="cpu").card
    assert compact.multiple == 1 and compact.extra["tiling"] == "supported"
    assert compact.extra["precisions"] == ["fp32", "fp16", "bf16"]


def test_tiles_equal_the_whole_image_within_the_receptive_field(models):
    # 4 convolutions: receptive-field radius 4 px <= min(overlap, tile / 2) / 4 (pipeline.blend_window)
    net, pth, _ = models["compact"]
    translator = translate.load(str(pth), device="cpu")
    image = image_from_array(random_image(40, 52, seed=2))
    whole, _ = translator.translate(image)
    tiled, _ = translator.translate(image, tile=32, tile_overlap=16)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_cli_keeps_alpha_and_16_bits(models, tmp_path, capsys):
    _, pth, safetensors = models["span"]
    rgba = write_png(tmp_path / "rgba.png", random_image(18, 22, c=4, seed=3))
    deep = write_png(tmp_path / "deep.png", random_image(18, 22, dtype=np.uint16, seed=4))
    assert main(["run", str(pth), str(rgba), "-o", str(tmp_path / "rgba_x2.png")]) == 0
    assert main(["run", str(safetensors), str(deep), "-o", str(tmp_path / "deep_x2.png")]) == 0
    out = read_image(tmp_path / "rgba_x2.png")
    assert out.size == (36, 44) and out.alpha is not None
    assert abs(float(out.alpha.mean()) - float(read_image(rgba).alpha.mean())) < 0.05
    assert read_image(tmp_path / "deep_x2.png").bit_depth == 16


def test_export_equals_pytorch_and_runs_torch_free(models, tmp_path):
    from translate.export.onnx import export_model
    from translate.run.runtime import Session

    # SPAN: its convolutions re-derive their weights in every forward, which torch.export cannot trace as is
    _, pth, _ = models["span"]
    result = export_model(str(pth), tmp_path / "span.onnx")
    assert result.exporter == "dynamo" and result.max_abs_diff <= 1e-4, result.checks
    session = Session(tmp_path / "span.onnx", device="cpu")
    assert session.card == translate.load(str(pth), device="cpu").card
    image = image_from_array(random_image(21, 19, seed=5))
    onnx_rgb, _ = session.translate(image, tile=16, tile_overlap=8)
    torch_rgb, _ = translate.load(str(pth), device="cpu").translate(image, tile=16, tile_overlap=8)
    np.testing.assert_allclose(onnx_rgb, torch_rgb, atol=1e-4)


@pytest.mark.slow
def test_swinir_export_within_the_community_tolerance(models, tmp_path):
    from translate.export.onnx import export_model
    from translate.run.runtime import Session

    net, pth, _ = models["swinir"]
    result = export_model(str(pth), tmp_path / "swinir.onnx")
    assert result.max_abs_diff <= community.EXPORT_TOLERANCE and result.tolerance == community.EXPORT_TOLERANCE
    image = image_from_array(random_image(20, 23, seed=6))
    rgb, _ = Session(tmp_path / "swinir.onnx", device="cpu").translate(image)
    np.testing.assert_allclose(rgb, forward(net, image.rgb), atol=community.EXPORT_TOLERANCE)


def test_our_and_official_loaders_keep_priority(tmp_path):
    official = tmp_path / "latest_net_G.pth"
    save_official_generator(official, arch="resnet_6blocks", ngf=8)
    assert translate.load(str(official), device="cpu").card.arch == "resnet_6blocks"


def test_unknown_state_dict_is_one_line(tmp_path, capsys):
    torch.save({"encoder.weight": torch.zeros(3, 3)}, tmp_path / "mystery.pth")
    save_file({"encoder.weight": torch.zeros(3, 3)}, tmp_path / "mystery.safetensors")
    write_png(tmp_path / "a.png", random_image(16, 16))
    for name in ("mystery.pth", "mystery.safetensors"):
        assert main(["run", str(tmp_path / name), str(tmp_path / "a.png")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "cannot tell the architecture" in err and "spandrel" in err, err
        assert "Traceback" not in err


def test_models_the_pipeline_cannot_run_are_refused(tmp_path, capsys):
    torch.manual_seed(0)
    rgba_model = ESRGAN(in_nc=4, out_nc=4, num_filters=8, num_blocks=1, scale=2)
    torch.save(rgba_model.state_dict(), tmp_path / "rgba.pth")
    write_png(tmp_path / "a.png", random_image(16, 16))
    assert main(["run", str(tmp_path / "rgba.pth"), str(tmp_path / "a.png")]) == 2
    assert "4 input / 4 output channels" in capsys.readouterr().err


def test_options_of_other_models_are_refused(models, tmp_path, capsys):
    _, pth, _ = models["compact"]
    write_png(tmp_path / "a.png", random_image(16, 16))
    assert main(["run", str(pth), str(tmp_path / "a.png"), "--direction", "BtoA"]) == 2
    assert "do not apply to a community model (Compact)" in capsys.readouterr().err


def test_tiling_a_model_that_discourages_it_warns(models, tmp_path, capsys):
    _, pth, _ = models["swinir"]
    write_png(tmp_path / "a.png", random_image(20, 20))
    assert main(["run", str(pth), str(tmp_path / "a.png"), "--tile", "16", "--tile-overlap", "8"]) == 0
    assert "tiling discouraged" in capsys.readouterr().err


def test_without_spandrel_the_error_says_how_to_install(tmp_path, monkeypatch):
    import translate.models.community as module
    from translate.errors import TranslateError

    torch.manual_seed(0)
    torch.save(Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=4).state_dict(), tmp_path / "c.pth")
    monkeypatch.setattr(module, "_spandrel", lambda: None)  # as when `import spandrel` fails
    with pytest.raises(TranslateError, match=r"need spandrel: pip install 'translate-gan\[community\]'"):
        translate.load(str(tmp_path / "c.pth"), device="cpu")


@pytest.mark.gpu
def test_fp16_on_cuda_is_close_to_fp32(models):
    if not torch.cuda.is_available():
        pytest.skip("needs an NVIDIA GPU (CUDA)")
    _, pth, _ = models["esrgan"]
    image = image_from_array(random_image(40, 36, seed=7))
    fp32, _ = translate.load(str(pth), device="cuda").translate(image)
    fp16, _ = translate.load(str(pth), device="cuda", precision="fp16").translate(image)
    bf16, _ = translate.load(str(pth), device="cuda", precision="bf16").translate(image)
    assert np.abs(fp16 - fp32).max() <= 1e-2
    assert np.abs(bf16 - fp32).max() <= 3e-2
