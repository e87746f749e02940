"""int8 export: QDQ graph, PSNR gate against fp32 (passes, refuses), metadata, runtime, bad folders."""

import json

import cv2
import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn

from translate.cli import main
from translate.errors import TranslateError
from translate.export.onnx import METADATA_KEY, export_onnx
from translate.metrics import psnr
from translate.models.cards import ModelCard
from translate.run.runtime import Session

from tests.helpers import save_official_generator, write_png

pytestmark = pytest.mark.slow  # each export traces a network and calibrates: 1-3 s


def _photo_like(seed: int, size: int = 48) -> np.ndarray:
    """A smooth random image with some edges (uint8 RGB): closer to a photo than white noise."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 6, 3)).astype(np.float32)
    image = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    image[size // 3:size // 2, :] = rng.integers(0, 256, 3)  # a hard-edged band
    return np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Six calibration-ready 48x48 images (every 5th is held out) and two held-out 64x40 ones."""
    root = tmp_path_factory.mktemp("images")
    calibration, check = root / "calibration", root / "check"
    calibration.mkdir()
    check.mkdir()
    for i in range(6):
        write_png(calibration / f"{i}.png", _photo_like(i))
    for i in range(2):
        write_png(check / f"{i}.png", _photo_like(10 + i)[:40])
    return calibration, check


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    """A tiny CycleGAN-style ResNet generator (instance norm, ngf 8) as an official .pth."""
    pth = tmp_path_factory.mktemp("resnet") / "tiny.pth"
    save_official_generator(pth, "resnet_2blocks", ngf=8, norm="instance")
    return pth


def _metadata(path) -> dict:
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    return json.loads(props[METADATA_KEY])


def _load(pth):
    """(network, card) of a .pth, as the export command builds them."""
    from translate.models.loading import load_model

    return load_model(str(pth))


def _fp32_translator(pth):
    from translate.run.inference import load

    return load(str(pth), device="cpu")


def _one_error_line(capsys) -> str:
    """The error line of a failed command (progress lines come before it on stderr)."""
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("translate: error: ")]
    assert len(errors) == 1 and err[-1] == errors[0], err
    return errors[0]


def test_int8_export_passes_gate_writes_qdq_and_runs_in_session(resnet, images, tmp_path, capsys):
    calibration, check = images
    fp32, int8 = tmp_path / "fp32.onnx", tmp_path / "int8.onnx"
    assert main(["export", str(resnet), "-o", str(fp32), "--opset", "17"]) == 0
    assert main(["export", str(resnet), "-o", str(int8), "--opset", "17", "--int8", "--calibration",
                 str(calibration), "--int8-check", str(check)]) == 0
    out = capsys.readouterr().out
    assert "int8 vs fp32 PSNR: calibration min" in out and "held-out min" in out and "gate >= 35 dB" in out

    model = onnx.load(str(int8))
    onnx.checker.check_model(model, full_check=True)
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    int8_weights = [t for t in model.graph.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]
    assert int8_weights  # weights stored as int8 ...
    per_channel = [n for n in model.graph.node if n.op_type == "DequantizeLinear"
                   and n.input[0] in {t.name for t in int8_weights}]
    scales = {t.name: t for t in model.graph.initializer}
    assert all(len(scales[n.input[1]].dims) == 1 and scales[n.input[1]].dims[0] > 1 for n in per_channel)  # per channel
    # int8 weights; per-channel scales and the four phases' own int32 biases weigh more in a tiny net
    assert int8.stat().st_size < 0.6 * fp32.stat().st_size

    meta = _metadata(int8)
    assert meta["precision"] == "int8" and meta["int8"]["format"] == "QDQ"
    figures = meta["int8"]["psnr_vs_fp32"]
    assert figures["calibration"]["images"] == 6 and figures["held_out"]["images"] == 2
    assert figures["calibration"]["min_db"] >= 35 and figures["held_out"]["min_db"] >= 35
    assert meta["int8"]["gate_db"] == 35.0 and meta["int8"]["calibration_method"] == "minmax"

    # The runtime runs it like any .onnx file, through the same pipeline, within the gate of fp32.
    image = _photo_like(99, size=52)
    a, b = Session(int8, device="cpu"), Session(fp32, device="cpu")
    assert a.card == b.card
    got, expected = a(image), b(image)
    assert got.shape == expected.shape == image.shape and got.dtype == np.uint8
    assert psnr(got, expected) >= 35


def test_int8_unet_decoder_runs_in_integer_convolutions(images, tmp_path, capsys):
    """A U-Net's transposed convolutions have no integer kernel in onnxruntime: the int8 export
    computes them as phase convolutions, so no float ConvTranspose is left and every convolution
    reads int8 weights; the output stays within the gate of fp32."""
    pth = tmp_path / "unet.pth"
    save_official_generator(pth, "unet_32", ngf=8, norm="instance")
    calibration, check = images
    fp32, int8 = tmp_path / "fp32.onnx", tmp_path / "int8.onnx"
    assert main(["export", str(pth), "-o", str(fp32)]) == 0
    assert main(["export", str(pth), "-o", str(int8), "--int8", "--calibration", str(calibration),
                 "--int8-check", str(check)]) == 0
    assert "transposed convolutions computed as four phase convolutions" in capsys.readouterr().err
    assert any(n.op_type == "ConvTranspose" for n in onnx.load(str(fp32)).graph.node)  # fp32 keeps them
    model = onnx.load(str(int8))
    assert not [n for n in model.graph.node if n.op_type == "ConvTranspose"]
    produced = {o: n for n in model.graph.node for o in n.output}
    initializers = {t.name: t for t in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(convs) == 5 + 4 * 5  # 5 down convolutions, 5 up ones in four phases each
    for conv in convs:
        dequantize = produced[conv.input[1]]
        assert dequantize.op_type == "DequantizeLinear"
        assert initializers[dequantize.input[0]].data_type == onnx.TensorProto.INT8
    image = _photo_like(98, size=64)
    assert psnr(Session(int8, device="cpu")(image), Session(fp32, device="cpu")(image)) >= 35


def test_int8_file_computes_exact_integers_with_its_session_config(images, tmp_path):
    """onnxruntime's uint8 x int8 kernels saturate on x86 CPUs without VNNI (two products summed
    in an int16): there the int8 files of this export were 21-31 dB away from what their QDQ graph
    means, and the gate refused them. The gate runs them with EXACT_INT8_SESSION_CONFIG, which the
    metadata names; with it onnxruntime opens the file (a DequantizeLinear shared by several
    InstanceNormalizations made that session fail) and its integer kernels give what onnxruntime's
    float evaluation of the same QDQ graph gives, up to float rounding, on any CPU."""
    import onnxruntime

    from translate.run.runtime import EXACT_INT8_SESSION_CONFIG

    pth = tmp_path / "unet.pth"
    save_official_generator(pth, "unet_32", ngf=8, norm="instance")
    calibration, check = images
    result = export_onnx(*_load(pth), tmp_path / "int8.onnx", int8=True, calibration=calibration, int8_check=check)
    assert _metadata(result.path)["int8"]["onnxruntime_session_config"] == EXACT_INT8_SESSION_CONFIG
    model = onnx.load(str(result.path))
    constants = {t.name for t in model.graph.initializer}
    dequantized = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in constants]
    readers = [i for n in model.graph.node for i in n.input]
    assert len({n.input[0] for n in dequantized}) == len(dequantized)  # one DequantizeLinear per constant ...
    assert all(readers.count(n.output[0]) == 1 for n in dequantized)  # ... read by one node

    def run(config: dict) -> np.ndarray:
        options = onnxruntime.SessionOptions()
        for key, value in config.items():
            options.add_session_config_entry(key, value)
        session = onnxruntime.InferenceSession(str(result.path), options, providers=["CPUExecutionProvider"])
        x = np.stack([_photo_like(seed, size=64) for seed in (5, 6)]).transpose(0, 3, 1, 2) / 127.5 - 1
        return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0]

    exact, simulated = run(EXACT_INT8_SESSION_CONFIG), run({"session.disable_quant_qdq": "1"})
    assert 10 * np.log10(4 / np.mean((exact - simulated) ** 2 + 1e-30)) >= 50  # outputs in [-1, 1]


def test_held_out_part_of_the_calibration_folder(resnet, images, tmp_path):
    calibration, _ = images
    result = export_onnx(*_load(resnet), tmp_path / "m.onnx", opset=17, int8=True, calibration=calibration)
    assert result.precision == "int8" and result.int8.passed()
    # 6 images: the 5th is held out, the other 5 calibrate.
    assert result.int8.held_out.images == ["4.png"] and len(result.int8.calibration.images) == 5


def test_impossible_gate_refuses_and_writes_nothing(resnet, images, tmp_path, capsys):
    out = tmp_path / "out" / "m.onnx"
    out.parent.mkdir()
    assert main(["export", str(resnet), "-o", str(out), "--opset", "17", "--int8", "--calibration",
                 str(images[0]), "--int8-gate", "200"]) == 2
    line = _one_error_line(capsys)
    assert "not written" in line and "< the gate 200 dB" in line and "calibration min" in line
    assert list(out.parent.iterdir()) == []


class _MixedScales(nn.Module):
    """Pathological for per-tensor activation ranges: one activation tensor holds a channel of
    ~1e4 next to the fine detail the output is made of, so uint8 steps of ~40 erase the detail."""

    def __init__(self):
        super().__init__()
        self.spread = nn.Conv2d(3, 4, 1)
        self.out = nn.Conv2d(4, 3, 1)
        with torch.no_grad():
            self.spread.weight.zero_()
            self.spread.bias.zero_()
            self.spread.weight[0, 0] = 1e4  # the huge channel
            for c in range(3):
                self.spread.weight[1 + c, c] = 1.0  # the image itself, in [-1, 1]
            self.out.weight.zero_()
            self.out.bias.zero_()
            for c in range(3):
                self.out.weight[c, 1 + c] = 1.0

    def forward(self, x):
        return torch.tanh(self.out(self.spread(x)))


def test_pathological_net_is_refused(images, tmp_path):
    card = ModelCard(name="test/mixed-scales", task="sr", generator={"arch": "mixed"}, multiple=1)
    out = tmp_path / "bad.onnx"
    with pytest.raises(TranslateError, match=r"not written: int8 differs from fp32 by PSNR .* dB < the gate 35 dB"):
        export_onnx(_MixedScales(), card, out, opset=17, int8=True, calibration=images[0])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case, message", [
    ("missing", "--calibration {d}/nowhere: no such folder"),
    ("file", "is a file, not a folder"),
    ("empty", "folder has no image files"),
    ("one", "has 1 image; int8 needs at least 2"),
    ("corrupt", "not a readable image"),
    ("no-calibration", "--int8 needs --calibration DIR"),
    ("no-int8", "--calibration only apply with --int8"),
    ("fp16", "--int8 and --fp16 exclude each other"),
])
def test_bad_int8_options_are_one_line_errors(resnet, images, tmp_path, capsys, case, message):
    folder = tmp_path / case
    folder.mkdir()
    options = ["--int8", "--calibration", str(folder)]
    if case == "missing":
        options[-1] = str(tmp_path / "nowhere")
    elif case == "file":
        options[-1] = str(write_png(tmp_path / "x.png", _photo_like(0)))
    elif case == "one":
        write_png(folder / "a.png", _photo_like(0))
    elif case == "corrupt":
        for i in range(3):
            write_png(folder / f"{i}.png", _photo_like(i))
        (folder / "1.png").write_bytes(b"not a png")
    elif case == "no-calibration":
        options = ["--int8"]
    elif case == "no-int8":
        options = ["--calibration", str(images[0])]
    elif case == "fp16":
        options = ["--int8", "--fp16", "--calibration", str(images[0])]
    out = tmp_path / "m.onnx"
    code = main(["export", str(resnet), "-o", str(out), "--opset", "17", *options])
    assert code == 2 and not out.exists()
    assert message.format(d=tmp_path) in _one_error_line(capsys)


def test_unknown_method_is_refused(resnet, images, tmp_path):
    with pytest.raises(TranslateError, match="--int8-method kl: use one of minmax, entropy, percentile"):
        export_onnx(*_load(resnet), tmp_path / "m.onnx", opset=17, int8=True, calibration=images[0], int8_method="kl")
    assert list(tmp_path.iterdir()) == []


def test_fixed_batch_int8_export_runs_in_session(resnet, images, tmp_path):
    result = export_onnx(*_load(resnet), tmp_path / "b2.onnx", opset=17, batch=2, int8=True, calibration=images[0])
    assert result.int8.passed() and result.batch == 2
    image = _photo_like(7)
    assert psnr(Session(result.path, device="cpu")(image), _fp32_translator(resnet)(image)) >= 35
