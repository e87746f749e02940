"""GPU checks (``pytest -m gpu``; tools/gpu/gpu_check.sh runs them on a lent GPU machine).

Each test skips, with the reason, where CUDA (PyTorch) or onnxruntime's CUDA provider is not
usable, so the suite passes on CPU-only machines. Tolerances: fp32 CUDA vs CPU differ by kernel
order and TF32-free cuDNN choices (1e-3 on [0, 255] images is far below one grey level); fp16
weights keep 2e-2 on the network's [-1, 1] output, the export's own fp16 tolerance.
"""

import numpy as np
import onnxruntime
import pytest
import torch

from translate.cli import main
from translate.export.onnx import TOLERANCE, export_onnx
from translate.models.loading import load_model
from translate.run.inference import load
from translate.run.runtime import CUDA, Session

from tests.helpers import random_image, save_official_generator

pytestmark = pytest.mark.gpu

needs_torch_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="PyTorch sees no CUDA device")
needs_ort_cuda = pytest.mark.skipif(CUDA not in onnxruntime.get_available_providers(),
                                    reason="onnxruntime has no CUDAExecutionProvider here")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny CycleGAN-style generator (.pth) and its fp32 ONNX export."""
    folder = tmp_path_factory.mktemp("gpu")
    pth = folder / "tiny.pth"
    save_official_generator(pth, "resnet_2blocks", ngf=8, norm="instance")
    net, card = load_model(str(pth))
    onnx_path = export_onnx(net, card, folder / "tiny.onnx").path
    return pth, onnx_path, net, card


def _cuda_session(path) -> Session:
    """A CUDA Session, or a skip naming why onnxruntime cannot use CUDA on this machine."""
    from translate.errors import TranslateError

    try:
        return Session(path, device="cuda")
    except TranslateError as e:
        pytest.skip(f"onnxruntime cannot run on CUDA here: {e}")


@needs_torch_cuda
def test_torch_cuda_run_matches_cpu(tiny):
    pth = tiny[0]
    image = random_image(52, 68, seed=3)
    cpu, gpu = load(str(pth), device="cpu"), load(str(pth), device="cuda")
    assert gpu.device.startswith("cuda")
    assert np.abs(cpu(image).astype(int) - gpu(image).astype(int)).max() <= 1


@needs_ort_cuda
def test_onnx_cuda_with_io_binding_matches_cpu(tiny):
    onnx_path = tiny[1]
    gpu, cpu = _cuda_session(onnx_path), Session(onnx_path, device="cpu")
    assert gpu.backend.io_binding and gpu.providers[0] == CUDA
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 64, 48)).astype(np.float32)
    for _ in range(2):  # the second call reuses the bound output buffer
        assert np.abs(gpu.backend(x) - cpu.backend(x)).max() <= 1e-3
    image = random_image(60, 44, seed=1)
    assert np.abs(gpu(image).astype(int) - cpu(image).astype(int)).max() <= 1


@needs_ort_cuda
def test_fp16_export_runs_on_cuda(tiny, tmp_path):
    net, card = tiny[2], tiny[3]
    half = export_onnx(net, card, tmp_path / "half.onnx", fp16=True).path
    gpu = _cuda_session(half)
    x = np.random.default_rng(1).uniform(-1, 1, (1, 3, 64, 64)).astype(np.float32)
    with torch.inference_mode():
        expected = net(torch.from_numpy(x)).numpy()
    assert np.abs(gpu.backend(x) - expected).max() <= TOLERANCE["fp16"]


@needs_torch_cuda
@pytest.mark.parametrize("options", [[], ["--precision", "bf16"], ["--precision", "bf16", "--channels-last"]])
def test_training_runs_on_cuda(tmp_path, options):
    from tests.helpers import write_png

    data = tmp_path / "data"
    (data / "train").mkdir(parents=True)
    for i in range(2):
        write_png(data / "train" / f"{i}.png", np.concatenate([random_image(64, 64, seed=i),
                                                               random_image(64, 64, seed=5 + i)], axis=1))
    out = tmp_path / "run"
    assert main(["train", "pix2pix", "--data", str(data), "--out", str(out), "--netG", "unet_64", "--ngf", "8",
                 "--ndf", "8", "--load-size", "64", "--crop-size", "64", "--max-iters", "3", "--workers", "0",
                 "--device", "cuda", *options]) == 0
    assert (out / "checkpoints" / "latest.pt").exists()
