"""ONNX export: checker, equality with PyTorch at several sizes and batches, metadata, fp16, errors."""

import json
import warnings

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
import torch.nn as nn

from translate.cli import main
from translate.errors import TranslateError
from translate.export.onnx import METADATA_KEY, export_onnx
from translate.models.cards import ModelCard
from translate.models.loading import load_model
from translate.models.weights import sha256_file
from translate.nets.build import build_generator
from translate.version import __version__

from tests.helpers import save_official_generator

pytestmark = pytest.mark.slow  # each export traces a network: 1-5 s


def _ort(path):
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _max_diff(session, net, x: torch.Tensor) -> float:
    with torch.inference_mode():
        expected = net(x).numpy()
    got = session.run(None, {"image": x.numpy()})[0]
    assert got.shape == expected.shape
    return float(np.abs(got - expected).max())


def _metadata(path) -> dict:
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    return json.loads(props[METADATA_KEY])


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    """A tiny CycleGAN-style ResNet (instance norm) in the official layout, exported by the CLI."""
    folder = tmp_path_factory.mktemp("resnet")
    pth = folder / "tiny_resnet.pth"
    save_official_generator(pth, "resnet_2blocks", ngf=8, norm="instance")
    out = folder / "onnx" / "tiny_resnet.onnx"
    assert main(["export", str(pth), "-o", str(out)]) == 0
    net, card = load_model(str(pth))
    return pth, out, net, card


@pytest.fixture(scope="module")
def unet(tmp_path_factory):
    """A tiny pix2pix-style U-Net (batch norm with non-trivial running stats, dropout), exported by the CLI."""
    folder = tmp_path_factory.mktemp("unet")
    torch.manual_seed(1)
    net = build_generator("unet_64", ngf=8, norm="batch", use_dropout=True)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    pth = folder / "tiny_unet.pth"
    torch.save(net.state_dict(), pth)
    out = folder / "tiny_unet.onnx"
    assert main(["export", str(pth), "-o", str(out)]) == 0
    net, card = load_model(str(pth))
    return pth, out, net, card


def test_resnet_export_is_valid_self_contained_and_dynamic(resnet, capsys):
    pth, out, net, card = resnet
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]  # no external .data file
    assert not any(onnx.external_data_helper.uses_external_data(t) for t in model.graph.initializer)
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert model.graph.input[0].name == "image" and dims == ["batch", 3, "4*h", "4*w"]
    session = _ort(out)
    for shape in [(1, 3, 64, 68), (1, 3, 36, 100), (2, 3, 48, 40)]:
        x = torch.rand(shape) * 2 - 1
        assert _max_diff(session, net, x) <= 1e-4, shape


def test_unet_exports_eval_mode(unet):
    _, out, net, card = unet
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    session = _ort(out)
    torch.manual_seed(0)
    for shape in [(1, 3, 64, 64), (2, 3, 128, 64)]:
        x = torch.rand(shape) * 2 - 1
        assert _max_diff(session, net, x) <= 1e-4, shape
    # Not train mode (per-image BatchNorm statistics, random dropout): those outputs differ.
    x = torch.rand(1, 3, 64, 128) * 2 - 1
    with torch.no_grad():
        train_out = net.train()(x).numpy()
    net.eval()
    assert np.abs(session.run(None, {"image": x.numpy()})[0] - train_out).max() > 1e-2


def test_metadata_round_trips(resnet, unet):
    for pth, out, _, card in (resnet, unet):
        meta = _metadata(out)
        assert ModelCard.from_dict(meta["card"]) == card
        assert meta["source"]["weights_sha256"] == sha256_file(pth)
        assert meta["source"]["model"] == str(pth)
        assert meta["translate_version"] == __version__
        assert (meta["task"], meta["architecture"], meta["size_multiple"], meta["scale"]) == \
            (card.task, card.arch, card.multiple, 1)
        assert meta["inputs"] == [{"name": "image", "channels": 3}] and meta["outputs"] == [{"name": "output"}]
        assert meta["value_range"]["input"] == [-1.0, 1.0]
        assert meta["normalisation"]["mean"] == 0.5 and meta["precision"] == "fp32"
        assert meta["exporter"] == "dynamo" and meta["batch"] == "dynamic"


def test_fp16_export_is_within_2e_2(resnet, tmp_path):
    _, _, net, card = resnet
    result = export_onnx(net, card, tmp_path / "half.onnx", fp16=True)
    assert result.precision == "fp16" and 0 < result.max_abs_diff <= 2e-2
    model = onnx.load(str(result.path))
    onnx.checker.check_model(model, full_check=True)
    kinds = {t.data_type for t in model.graph.initializer if t.dims}
    assert onnx.TensorProto.FLOAT16 in kinds and onnx.TensorProto.FLOAT not in kinds
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    x = torch.rand(2, 3, 52, 44) * 2 - 1
    assert _max_diff(_ort(result.path), net, x) <= 2e-2
    assert _metadata(result.path)["precision"] == "fp16"


def test_old_opset_uses_torchscript_and_fixed_batch(resnet, tmp_path, capsys):
    pth, _, net, _ = resnet
    out = tmp_path / "old.onnx"
    assert main(["export", str(pth), "-o", str(out), "--opset", "17", "--batch", "2"]) == 0
    assert "TorchScript" in capsys.readouterr().err
    model = onnx.load(str(out))
    assert model.opset_import[0].version == 17
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    assert _metadata(out)["exporter"] == "torchscript"
    assert _max_diff(_ort(out), net, torch.rand(2, 3, 40, 56) * 2 - 1) <= 1e-4


def test_verify_image(resnet, tmp_path, shared_data, capsys):
    pth = resnet[0]
    image = next((shared_data / "unpaired" / "horse2zebra_mini" / "testA").iterdir())
    assert main(["export", str(pth), "-o", str(tmp_path / "m.onnx"), "--opset", "17", "--verify-image", str(image)]) == 0
    assert f"image {image.name}" in capsys.readouterr().out


class _Drifting(nn.Module):
    """Output depends on Python state the exporter cannot capture: ONNX and PyTorch disagree."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.conv(x) + 0.01 * self.calls


def test_failed_verification_writes_nothing(tmp_path):
    card = ModelCard(name="test/drifting", task="sr", generator={"arch": "drifting"}, multiple=4)
    out = tmp_path / "drift.onnx"
    with pytest.raises(TranslateError, match="not written: onnxruntime differs"):
        export_onnx(_Drifting(), card, out, opset=17)
    assert list(tmp_path.iterdir()) == []


def _refused_by_the_cli(argv, out, capsys) -> str:
    """`translate export` exits 2 (the documented code of a TranslateError) with one error line and writes nothing."""
    assert main(argv) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("translate: error:")]
    assert len(errors) == 1, errors
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    return errors[0]


def test_cli_refuses_a_generator_with_nan_weights(tmp_path, capsys):
    # NaN in one output channel's weights: that channel is NaN in PyTorch and onnxruntime alike, so
    # the difference is NaN (not a number <= 1e-4): refused, not taken as "no difference".
    pth = tmp_path / "nan.pth"
    state = save_official_generator(pth, "resnet_2blocks", ngf=8, norm="instance")
    last = [k for k, v in state.items() if k.endswith("weight") and v.ndim == 4][-1]
    state[last][0, 0, 0, 0] = float("nan")
    torch.save(state, pth)
    with torch.inference_mode():
        y = load_model(str(pth))[0](torch.rand(1, 3, 32, 32) * 2 - 1)
    assert y[:, 0].isnan().all() and y[:, 1:].isfinite().all()  # NaN in one channel, not everywhere
    out = tmp_path / "onnx" / "nan.onnx"
    error = _refused_by_the_cli(["export", str(pth), "-o", str(out)], out, capsys)
    assert "not written: onnxruntime differs from PyTorch by inf > 0.0001" in error


def test_cli_refuses_a_generator_whose_output_is_inf(tmp_path, capsys):
    # +inf in the red channel only (inf - inf is NaN there; the other channels are finite and agree).
    from translate.models.checkpoint import save_shipped

    generator = {"arch": "srresnet", "scale": 2, "num_blocks": 1, "num_feat": 8}
    torch.manual_seed(0)
    net = build_generator(**generator)
    with torch.no_grad():
        net.tail.bias[0] = float("inf")
        y = net.eval()(torch.rand(1, 3, 16, 16))
    assert y[:, 0].isposinf().all() and y[:, 1:].isfinite().all()
    model = tmp_path / "inf.safetensors"
    save_shipped(model, net.state_dict(),
                 ModelCard(name="inf", task="sr", generator=generator, mean=0.0, std=1.0, scale=2, multiple=1))
    out = tmp_path / "onnx" / "inf.onnx"
    with warnings.catch_warnings(record=True) as caught:  # one line: no numpy RuntimeWarning before it
        warnings.simplefilter("always")
        error = _refused_by_the_cli(["export", str(model), "-o", str(out)], out, capsys)
    assert "not written: onnxruntime differs from PyTorch by inf > 0.0001" in error
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]


class _ShapeBranch(nn.Module):
    """``conv(x)``, plus 0.01 when ``condition(B, C, H, W)`` holds. The exporter fixes a branch on the
    input's shape to the one its example takes (batch 2, 16x20: the condition false), so the ONNX
    graph is ``conv(x)`` at every size and PyTorch differs from it exactly where the condition holds."""

    def __init__(self, condition):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.condition = condition

    def forward(self, x):
        y = self.conv(x)
        if self.condition(*x.shape):
            y = y + 0.01
        return y


def _failed_checks(message: str) -> dict[str, float]:
    """The per-input differences of a refused export's message: ``{"random 1x3x64x68": 2e-07, ...}``."""
    detail = message[message.rindex("(") + 1:-1]
    return {what: float(d) for what, d in (part.rsplit(": ", 1) for part in detail.split(", "))}


def test_verification_gates_on_the_batch_2_input(tmp_path):
    # PyTorch adds 0.01 only for a batch > 1 of 64 px or more: not on the export example (2x16x20),
    # not on the first random input (1x64x68), only on the second (2x68x64).
    card = ModelCard(name="test/batch-branch", task="sr", generator={"arch": "branch"}, multiple=4)
    torch.manual_seed(0)
    with pytest.raises(TranslateError, match="not written: onnxruntime differs") as refused:
        export_onnx(_ShapeBranch(lambda b, c, h, w: b > 1 and h >= 64), card, tmp_path / "batch.onnx")
    checks = _failed_checks(str(refused.value))
    assert [what for what, d in checks.items() if d > 1e-4] == ["random 2x3x68x64"], checks
    assert list(tmp_path.iterdir()) == []


def test_verification_gates_on_the_verify_image(tmp_path):
    # PyTorch adds 0.01 only for a side of 96 px or more: the 100x120 verify image, neither random input
    # (64x68, 68x64) nor the export example.
    from tests.helpers import random_image, write_png

    image = write_png(tmp_path / "real.png", random_image(100, 120, seed=3))
    card = ModelCard(name="test/size-branch", task="sr", generator={"arch": "branch"}, multiple=4)
    torch.manual_seed(0)
    with pytest.raises(TranslateError, match="not written: onnxruntime differs") as refused:
        export_onnx(_ShapeBranch(lambda b, c, h, w: max(h, w) >= 96), card, tmp_path / "big.onnx",
                    verify_images=[image])
    checks = _failed_checks(str(refused.value))
    assert [what for what, d in checks.items() if d > 1e-4] == ["image real.png 100x120"], checks
    assert list(tmp_path.iterdir()) == [image]


class _DataDependent(nn.Module):
    """A branch on tensor values: torch.export refuses it, the TorchScript tracer records one branch."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        if x.abs().max() >= 0:  # always true, but data-dependent
            return self.conv(x)
        return x


def test_dynamo_failure_falls_back_to_torchscript(tmp_path):
    card = ModelCard(name="test/branchy", task="sr", generator={"arch": "branchy"}, multiple=4)
    result = export_onnx(_DataDependent(), card, tmp_path / "branchy.onnx")
    assert result.exporter == "torchscript" and "dynamo exporter failed" in result.notes[0]
    assert "\n" not in result.notes[0] and result.max_abs_diff <= 1e-4
    assert _metadata(result.path)["exporter"] == "torchscript"


class _Inpainter(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 3, 3, padding=1)

    def forward(self, image, mask):
        return torch.tanh(self.conv(torch.cat([image * (1 - mask), mask], 1)))


def test_two_input_model_exports_with_card_input_names(tmp_path):
    from translate.run.runtime import OrtBackend

    torch.manual_seed(0)
    net = _Inpainter().eval()
    card = ModelCard(name="test/inpaint", task="inpaint", generator={"arch": "inpainter"}, multiple=8,
                     extra={"inputs": ["image", "mask"]})
    result = export_onnx(net, card, tmp_path / "inpaint.onnx")
    assert result.max_abs_diff <= 1e-4
    session = _ort(result.path)
    assert [(i.name, i.shape[1]) for i in session.get_inputs()] == [("image", 3), ("mask", 1)]
    x = np.random.default_rng(0).uniform(-1, 1, (2, 4, 24, 40)).astype(np.float32)
    with torch.inference_mode():
        expected = net(torch.from_numpy(x[:, :3]), torch.from_numpy(x[:, 3:])).numpy()
    assert np.abs(OrtBackend(session)(x) - expected).max() <= 1e-5


def test_user_errors(resnet, tmp_path):
    pth, out, _, _ = resnet
    before = pth.read_bytes()
    assert main(["export", str(pth), "-o", str(pth)]) == 2  # not .onnx: the source is never overwritten
    assert pth.read_bytes() == before
    assert main(["export", str(out), "-o", str(tmp_path / "again.onnx")]) == 2
    assert main(["export", str(tmp_path / "missing.pth"), "-o", str(tmp_path / "x.onnx")]) == 2
    with pytest.raises(SystemExit):
        main(["export", str(pth), "-o", str(tmp_path / "x.onnx"), "--batch", "0"])
    source = tmp_path / "source.onnx"
    source.write_bytes(b"weights")
    _, card = load_model(str(pth))
    with pytest.raises(TranslateError, match="would overwrite an input"):
        export_onnx(build_generator(**card.generator), card, source, source_file=source)
    assert source.read_bytes() == b"weights"


def _shipped(tmp_path, name, task, generator, **card_fields):
    """A tiny model saved as a shipped .safetensors file with its card."""
    from translate.models.checkpoint import save_shipped
    from translate.nets.architectures import size_multiple

    torch.manual_seed(0)
    net = build_generator(**generator)
    for p in net.parameters():  # untrained nets can be exact identities (the de-rainer): make them work
        p.data.normal_(0, 0.05)
    card = ModelCard(name=name, task=task, generator=generator, multiple=card_fields.pop("multiple", size_multiple(generator)),
                     **card_fields)
    path = tmp_path / f"{name}.safetensors"
    save_shipped(path, net.state_dict(), card)
    return path


@pytest.mark.parametrize("task, generator, fields", [
    ("sr", {"arch": "srresnet", "scale": 2, "num_blocks": 1, "num_feat": 8}, {"mean": 0.0, "std": 1.0, "scale": 2, "multiple": 1}),
    ("derain", {"arch": "derain", "ngf": 8}, {"mean": 0.0, "std": 1.0, "multiple": 8}),
])
def test_sr_and_derain_export_match_the_torch_path(tmp_path, task, generator, fields):
    import translate
    from translate.run.runtime import Session

    model = _shipped(tmp_path, task, task, generator, **fields)
    onnx_path = tmp_path / f"{task}.onnx"
    assert main(["export", str(model), "-o", str(onnx_path)]) == 0
    image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    ours, reference = Session(onnx_path, device="cpu")(image), translate.load(str(model), device="cpu")(image)
    assert ours.shape == reference.shape == (37 * fields.get("scale", 1), 53 * fields.get("scale", 1), 3)
    assert np.abs(ours.astype(int) - reference.astype(int)).max() <= 1
    # fp16 too (PixelShuffle's reshapes and the de-rainer's residual input tripped the converter)
    half = tmp_path / f"{task}16.onnx"
    assert main(["export", str(model), "-o", str(half), "--fp16"]) == 0
    assert _metadata(half)["precision"] == "fp16"
    assert np.abs(Session(half, device="cpu")(image).astype(int) - reference.astype(int)).max() <= 3


def test_inpainting_export_takes_image_and_mask_at_its_fixed_size(tmp_path):
    import translate
    from translate.run.runtime import Session

    generator = {"arch": "context_encoder", "ngf": 8, "max_channels": 16, "bottleneck": 32, "bottleneck_groups": 4}
    model = _shipped(tmp_path, "inp", "inpaint", generator, multiple=128, extra={"image_size": 128})
    onnx_path = tmp_path / "inp.onnx"
    assert main(["export", str(model), "-o", str(onnx_path)]) == 0
    shape = _ort(onnx_path).get_inputs()[0].shape
    assert shape[1:] == [4, 128, 128]  # image + mask channels, the one size the network takes
    image = np.random.default_rng(1).integers(0, 256, (90, 150, 3), dtype=np.uint8)
    mask = np.zeros((90, 150), np.uint8)
    mask[20:60, 40:100] = 255
    ours = Session(onnx_path, device="cpu")(image, mask=mask)
    reference = translate.load(str(model), device="cpu")(image, mask=mask)
    assert np.abs(ours.astype(int) - reference.astype(int)).max() <= 1
    assert np.array_equal(ours[mask == 0], image[mask == 0]) and not np.array_equal(ours[mask > 0], image[mask > 0])
