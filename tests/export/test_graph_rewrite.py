"""CPU graph rewrites of exported models: few-channel convolutions in four phases (exact), the
exported ResNet's native InstanceNormalization, int8 pixel shuffles moving uint8."""

import cv2
import numpy as np
import onnx
import onnxruntime
import pytest
import torch
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

from translate.export.graph_rewrite import phase_split_convolutions, phase_split_transposed_convolutions
from translate.export.onnx import export_onnx
from translate.models.cards import ModelCard
from translate.nets.build import build_generator

from tests.helpers import write_png


def _conv_model(out_channels=3, in_channels=16, kernel=7, pads=(3, 3, 3, 3), strides=(1, 1), bias=True,
                opset=18) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.1, (out_channels, in_channels, kernel, kernel)).astype(np.float32), "w")]
    inputs = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.normal(0, 0.1, out_channels).astype(np.float32), "b"))
        inputs.append("b")
    node = helper.make_node("Conv", inputs, ["y"], name="conv", kernel_shape=[kernel, kernel], pads=list(pads),
                            strides=list(strides))
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", in_channels, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", out_channels, "oh", "ow"])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=9)


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@pytest.mark.parametrize("kernel, pads, bias, size", [
    (7, (3, 3, 3, 3), True, (33, 35)),    # odd output sizes: the crop removes the extra phase row / column
    (7, (0, 0, 0, 0), False, (40, 38)),   # CycleGAN's output layer (reflect pad done before, no bias)
    (3, (1, 2, 0, 1), True, (17, 24)),    # asymmetric pads
    (9, (4, 4, 4, 4), True, (20, 21)),
])
def test_phase_split_equals_the_convolution(kernel, pads, bias, size):
    model = _conv_model(kernel=kernel, pads=pads, bias=bias)
    x = np.random.default_rng(1).normal(0, 1, (2, 16, *size)).astype(np.float32)
    expected = _run(model, x)
    assert phase_split_convolutions(model) == ["conv"]
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Conv") == 1 and "DepthToSpace" in ops
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    weight = next(t for t in model.graph.initializer if t.name == conv.input[1])
    assert list(weight.dims) == [12, 16, kernel + 1, kernel + 1]
    assert [list(a.ints) for a in conv.attribute if a.name == "strides"] == [[2, 2]]
    got = _run(model, x)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-5


@pytest.mark.parametrize("case", ["wide", "strided", "narrow input", "old opset"])
def test_other_convolutions_are_left_alone(case):
    model = {"wide": lambda: _conv_model(out_channels=16), "strided": lambda: _conv_model(strides=(2, 2)),
             "narrow input": lambda: _conv_model(in_channels=8),
             "old opset": lambda: _conv_model(opset=13)}[case]()
    before = model.SerializeToString()
    assert phase_split_convolutions(model) == []
    assert model.SerializeToString() == before


def test_resnet_export_native_instance_norm_and_phase_split_output_layer(tmp_path):
    """The CycleGAN-style export keeps onnxruntime's native InstanceNormalization (not a
    ReduceMean / Sub / Pow decomposition) and computes its 3-channel output layer in four phases,
    with outputs equal to PyTorch's."""
    torch.manual_seed(0)
    net = build_generator("resnet_2blocks", ngf=16, norm="instance").eval()
    card = ModelCard(name="test/resnet16", task="translation", generator={"arch": "resnet_2blocks", "ngf": 16})
    result = export_onnx(net, card, tmp_path / "r.onnx")
    assert result.max_abs_diff <= 1e-4 and any("four phases" in note for note in result.notes)
    model = onnx.load(str(result.path))
    ops = [n.op_type for n in model.graph.node]
    norms = sum(isinstance(m, nn.InstanceNorm2d) for m in net.modules())
    assert ops.count("InstanceNormalization") == norms == 9 and "ReduceMean" not in ops
    assert ops.count("DepthToSpace") == 1
    weights = {t.name: t for t in model.graph.initializer}
    out_channels = [weights[n.input[1]].dims[0] for n in model.graph.node if n.op_type == "Conv"]
    assert 3 not in out_channels and 12 in out_channels
    x = np.random.default_rng(2).uniform(-1, 1, (1, 3, 44, 52)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        expected = net(torch.from_numpy(x)).numpy()
    assert np.abs(session.run(None, {"image": x})[0] - expected).max() <= 1e-4
    plain = export_onnx(net, card, tmp_path / "plain.onnx", cpu_rewrites=False)
    assert "DepthToSpace" not in [n.op_type for n in onnx.load(str(plain.path)).graph.node]


class _SubPixel(nn.Module):
    """Conv -> PixelShuffle(2) -> PReLU -> Conv: a tiny x2 super-resolution net."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.up = nn.Conv2d(3, 64, 3, 1, 1)
        self.act = nn.PReLU(16)
        self.out = nn.Conv2d(16, 3, 3, 1, 1)

    def forward(self, x):
        return self.out(self.act(nn.functional.pixel_shuffle(self.up(x), 2)))


@pytest.mark.slow
def test_int8_pixel_shuffle_moves_uint8(tmp_path):
    """DepthToSpace is quantised like Transpose (output scale = input scale), so onnxruntime's
    optimised int8 graph shuffles uint8: no DequantizeLinear feeds it."""
    folder = tmp_path / "calibration"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        small = rng.integers(0, 256, (5, 5, 3)).astype(np.float32)
        write_png(folder / f"{i}.png", np.clip(cv2.resize(small, (32, 32), interpolation=cv2.INTER_CUBIC), 0, 255)
                  .astype(np.uint8))
    card = ModelCard(name="test/subpixel", task="sr", generator={"arch": "subpixel"}, multiple=1, scale=2)
    result = export_onnx(_SubPixel().eval(), card, tmp_path / "q.onnx", int8=True, calibration=folder,
                         int8_gate_db=0.0)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    onnxruntime.InferenceSession(str(result.path), options, providers=["CPUExecutionProvider"])
    optimized = onnx.load(str(tmp_path / "optimized.onnx")).graph
    producers = {o: n.op_type for n in optimized.node for o in n.output}
    shuffles = [n for n in optimized.node if n.op_type == "DepthToSpace"]
    assert shuffles and all(producers.get(n.input[0]) != "DequantizeLinear" for n in shuffles)


def _transposed_model(in_channels=16, out_channels=8, kernel=4, pads=(1, 1, 1, 1), output_padding=(0, 0),
                      bias=True, group=1) -> onnx.ModelProto:
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(
        rng.normal(0, 0.1, (in_channels, out_channels // group, kernel, kernel)).astype(np.float32), "w")]
    inputs = ["x", "w"]
    if bias:
        inits.append(numpy_helper.from_array(rng.normal(0, 0.1, out_channels).astype(np.float32), "b"))
        inputs.append("b")
    node = helper.make_node("ConvTranspose", inputs, ["y"], name="up", kernel_shape=[kernel, kernel],
                            pads=list(pads), strides=[2, 2], output_padding=list(output_padding), group=group)
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", in_channels, "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", out_channels, "oh", "ow"])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


@pytest.mark.parametrize("kernel, pads, output_padding, bias, size", [
    (4, (1, 1, 1, 1), (0, 0), True, (9, 12)),   # the U-Net decoder (pix2pix)
    (3, (1, 1, 1, 1), (1, 1), True, (7, 10)),   # CycleGAN's upsampling
    (2, (0, 0, 0, 0), (0, 0), False, (5, 6)),
    (4, (2, 1, 0, 1), (0, 0), True, (6, 7)),    # asymmetric pads
    (6, (2, 2, 2, 2), (0, 0), True, (4, 5)),
])
def test_transposed_phase_split_equals_the_transposed_convolution(kernel, pads, output_padding, bias, size):
    model = _transposed_model(kernel=kernel, pads=pads, output_padding=output_padding, bias=bias)
    x = np.random.default_rng(3).normal(0, 1, (2, 16, *size)).astype(np.float32)
    expected = _run(model, x)
    assert expected.shape == (2, 8, 2 * size[0], 2 * size[1])
    assert phase_split_transposed_convolutions(model) == ["up"]
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Conv") == 4 and "ConvTranspose" not in ops and "DepthToSpace" in ops
    # the same multiply-adds: the four phase kernels hold the k x k taps once each
    weights = {t.name: t for t in model.graph.initializer}
    taps = sum(int(np.prod(weights[n.input[1]].dims[2:])) for n in model.graph.node if n.op_type == "Conv")
    assert taps == kernel * kernel
    got = _run(model, x)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-5


@pytest.mark.parametrize("case", ["grouped", "not doubling", "odd extra"])
def test_other_transposed_convolutions_are_left_alone(case):
    model = {"grouped": lambda: _transposed_model(group=2),
             "not doubling": lambda: _transposed_model(kernel=4, pads=(0, 0, 0, 0)),
             "odd extra": lambda: _transposed_model(kernel=3, pads=(1, 1, 1, 1))}[case]()
    before = model.SerializeToString()
    assert phase_split_transposed_convolutions(model) == []
    assert model.SerializeToString() == before
