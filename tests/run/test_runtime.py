"""The torch-free onnxruntime runtime: same results as the PyTorch path, devices, errors."""

import subprocess
import sys

import numpy as np
import onnx
import pytest

from translate.cli import main
from translate.errors import TranslateError
from translate.export.onnx import export_onnx
from translate.imageio import read_image
from translate.models.loading import load_model
from translate.run.inference import TorchBackend
from translate.run.pipeline import Translator
from translate.run.runtime import Session

from tests.helpers import random_image, save_official_generator, write_png
from tests.hostile_helpers import assert_one_error, write_identity_onnx


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny ResNet generator: its .pth, its ONNX export, and the PyTorch translator of the same weights."""
    folder = tmp_path_factory.mktemp("runtime")
    pth = folder / "tiny.pth"
    save_official_generator(pth, "resnet_2blocks", ngf=8, norm="instance", seed=3)
    net, card = load_model(str(pth))
    out = export_onnx(net, card, folder / "tiny.onnx").path
    return out, Translator(TorchBackend(net), card)


def _levels(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


def test_import_does_not_import_torch():
    code = ("import sys, translate.run.runtime, translate.run.pipeline, translate.imageio\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchvision', 'onnx'))\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_odd_size_matches_pytorch_path(model):
    path, torch_translator = model
    session = Session(path, device="cpu")
    assert session.providers == ["CPUExecutionProvider"] and session.card == torch_translator.card
    image = random_image(61, 47, seed=1)
    out = session(image)
    assert out.shape == (61, 47, 3) and out.dtype == np.uint8
    assert _levels(out, torch_translator(image)) <= 1


def test_alpha_gray_and_channel_errors(model):
    path, torch_translator = model
    session = Session(path, device="cpu")
    rgba = random_image(40, 36, c=4, seed=2)
    out = session(rgba)
    assert out.shape == (40, 36, 4) and np.array_equal(out[..., 3], rgba[..., 3])
    assert _levels(out[..., :3], session(np.ascontiguousarray(rgba[..., :3]))) == 0
    gray = random_image(33, 21, c=1, seed=3)
    out = session(gray)
    assert out.shape == (33, 21)  # gray in, gray out (tests/run/test_gray.py)
    assert _levels(out, torch_translator(gray)) <= 1
    with pytest.raises(TranslateError, match="shape"):
        session(np.zeros((8, 8, 2), np.uint8))
    with pytest.raises(TranslateError, match="uint8"):
        session(np.zeros((8, 8, 3), np.float32))


def test_tile_options_reach_the_pipeline(model):
    path, torch_translator = model
    session = Session(path, device="cpu")
    image = random_image(72, 88, seed=4)
    tiled = session(image, tile=32, tile_overlap=16)
    assert _levels(tiled, torch_translator(image, tile=32, tile_overlap=16)) <= 1
    assert _levels(tiled, session(image)) > 1  # instance norm per tile: tiling really happened
    with pytest.raises(TranslateError):
        session(image, tile=32, tile_overlap=40)


def test_translate_file_and_cli(model, tmp_path):
    path, torch_translator = model
    src = write_png(tmp_path / "in.png", random_image(30, 26, c=4, seed=5))
    Session(path, device="cpu").translate_file(src, tmp_path / "out.png")
    result = read_image(tmp_path / "out.png")
    assert result.size == (30, 26) and np.array_equal(result.alpha, read_image(src).alpha)
    assert main(["run", str(path), str(src), "-o", str(tmp_path / "cli.png"), "--device", "cpu"]) == 0
    assert np.array_equal(read_image(tmp_path / "cli.png").rgb, result.rgb)


def test_fixed_batch_model_runs_any_batch(model, tmp_path):
    path, torch_translator = model
    net = torch_translator.backend.net
    fixed = export_onnx(net, torch_translator.card, tmp_path / "b3.onnx", batch=3, opset=17).path
    backend = Session(fixed, device="cpu").backend
    assert backend.fixed_batch == 3
    x = np.random.default_rng(0).uniform(-1, 1, (4, 3, 24, 32)).astype(np.float32)
    expected = torch_translator.backend(x)
    assert np.abs(backend(x) - expected).max() <= 1e-4
    assert np.abs(backend(x[:1]) - expected[:1]).max() <= 1e-4


def test_files_that_are_not_translate_models(model, tmp_path):
    path, _ = model
    bare = onnx.load(str(path))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    with pytest.raises(TranslateError, match="no 'translate' metadata.*translate export"):
        Session(tmp_path / "bare.onnx", device="cpu")
    onnx.helper.set_model_props(bare, {"translate": "{not json"})
    onnx.save(bare, str(tmp_path / "damaged.onnx"))
    with pytest.raises(TranslateError, match="damaged"):
        Session(tmp_path / "damaged.onnx", device="cpu")
    (tmp_path / "text.onnx").write_text("not a model")
    with pytest.raises(TranslateError, match="not an ONNX model"):
        Session(tmp_path / "text.onnx", device="cpu")
    with pytest.raises(TranslateError, match="no such file"):
        Session(tmp_path / "missing.onnx")
    with pytest.raises(TranslateError, match="unknown device"):
        Session(path, device="gpu")


def test_a_dynamic_channel_dimension_is_one_line_naming_the_file(tmp_path, capsys):
    path = write_identity_onnx(tmp_path / "dynamic_c.onnx")
    proto = onnx.load(str(path))
    for value in (*proto.graph.input, *proto.graph.output):
        value.type.tensor_type.shape.dim[1].dim_param = "C"  # [N, C, H, W], C symbolic
    onnx.save(proto, str(path))
    src = write_png(tmp_path / "img.png", random_image(16, 16))
    code = main(["run", str(path), str(src), "-o", str(tmp_path / "out.png"), "--device", "cpu"])
    assert_one_error(code, capsys.readouterr().err, 2, str(path), "fixed channel count")
    assert not (tmp_path / "out.png").exists()


def test_cuda_is_never_a_silent_fallback(model, capfd):
    path, _ = model
    try:
        session = Session(path, device="cuda")
    except TranslateError as e:
        assert "CUDA" in str(e) and "\n" not in str(e)
        assert capfd.readouterr().err == ""  # onnxruntime's library-loading errors are silenced
        assert Session(path, device="auto").providers == ["CPUExecutionProvider"]
    else:  # a machine where onnxruntime can use the GPU
        assert session.providers[0] == "CUDAExecutionProvider" and session.device == "cuda"


def test_io_binding_gives_the_same_outputs_and_reuses_its_buffer(model):
    path, _ = model
    plain = Session(path, device="cpu").backend
    bound = Session(path, device="cpu", io_binding=True).backend
    assert bound.io_binding and not plain.io_binding  # on the CPU binding is opt-in; on CUDA the default
    rng = np.random.default_rng(1)
    a, b = (rng.uniform(-1, 1, (2, 3, 24, 32)).astype(np.float32) for _ in range(2))
    c = rng.uniform(-1, 1, (1, 3, 16, 40)).astype(np.float32)
    first = bound(a)
    kept = dict(bound._outputs)
    second = bound(b)  # same shape: the kept output buffer is bound again
    assert bound._outputs.keys() == kept.keys() and len(kept) == 1
    np.testing.assert_array_equal(first, plain(a))  # not overwritten by the second run
    np.testing.assert_array_equal(second, plain(b))
    np.testing.assert_array_equal(bound(c), plain(c))  # a new shape gets its own buffer
    assert len(bound._outputs) == 2


def test_a_provider_without_float16_kernels_is_one_clear_line(model, monkeypatch):
    # onnxruntime's CPU provider runs float16 graphs by inserting casts, so no provider here lacks
    # fp16 kernels; this feeds the error such a provider raises (e.g. an older onnxruntime or an
    # execution provider without half support) through the session opening.
    import onnxruntime

    def refuse(*args, **kwargs):
        raise RuntimeError("[ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : Could not find an implementation for "
                           "Conv(11) node with name '/Conv' (tensor(float16))\nmore detail")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    path, _ = model
    with pytest.raises(TranslateError, match="an --fp16 export needs a GPU: export without --fp16") as err:
        Session(path, device="cpu")
    assert "\n" not in str(err.value)


def test_int8_kernels_are_made_exact_on_x86_cpus_without_vnni(tmp_path, monkeypatch):
    """Where onnxruntime's uint8 x int8 kernels saturate (x86 without VNNI) every session is opened
    with EXACT_INT8_SESSION_CONFIG; with VNNI, on ARM, or with the flags unreadable, as decided."""
    from translate.run import runtime

    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setattr(runtime, "_CPUINFO", cpuinfo)
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    cpuinfo.write_text("flags\t\t: fpu sse2 avx avx2 fma\n")
    assert runtime.int8_saturates()
    (key, value), = runtime.EXACT_INT8_SESSION_CONFIG.items()

    def configured() -> str | None:
        try:
            return runtime._session_options(None, forbid_cpu_fallback=False).get_session_config_entry(key)
        except RuntimeError:  # onnxruntime: "does not have configuration with key"
            return None

    assert configured() == value
    cpuinfo.write_text("flags\t\t: fpu sse2 avx avx2 avx512f avx512_vnni\n")
    assert not runtime.int8_saturates()
    assert configured() is None
    cpuinfo.unlink()
    assert runtime.int8_saturates()  # unknown on x86: the exact side
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    assert not runtime.int8_saturates()
